output "webhook_url" {
  description = "Paste into Meta's console as the WhatsApp webhook callback URL."
  value       = google_cloudfunctions2_function.fn["whatsapp_webhook"].service_config[0].uri
}

output "oauth_redirect_uri" {
  description = "Register as the Instagram app's OAuth redirect URI."
  value       = local.common_env.INSTAGRAM_REDIRECT_URI
}

output "job_name" {
  description = "The Cloud Run Job the dispatcher runs."
  value       = google_cloud_run_v2_job.jiwa.id
}

output "secrets_to_fill" {
  description = "Secret Manager secrets to add a version to (README 'Deploy')."
  value       = sort([for s in google_secret_manager_secret.s : s.secret_id])
}

output "build_service_account" {
  description = "The build identity: every function build, and `gcloud builds submit --service-account` for the job image (README 'Deploy', step 3)."
  value       = google_service_account.build.id
}

output "job_image" {
  description = "The job image the job runs, by digest (pushed as jiwa-job:job_image_tag)."
  value       = data.google_artifact_registry_docker_image.job.self_link
}
