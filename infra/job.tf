resource "google_artifact_registry_repository" "jiwa" {
  #checkov:skip=CKV_GCP_84:Google-managed encryption; the image holds code only, no data or secrets
  location      = var.region
  repository_id = "jiwa"
  format        = "DOCKER"
  description   = "The jiwa-job image (Dockerfile at the repository root)."
  depends_on    = [time_sleep.apis]
}

resource "google_service_account" "job" {
  account_id   = "jiwa-job"
  display_name = "Jiwa onboarding job"
  depends_on   = [time_sleep.apis]
}

# The job is created only once its image exists: Cloud Run resolves the image when it
# creates the job and fails if it is missing. The image is built and pushed between the
# bootstrap and the full apply (README "Deploy"); this lookup stops the plan with
# "Requested image was not found." when the tag is not there yet, before anything is
# created (provider: website/docs/d/artifact_registry_docker_image.html.markdown). The
# job then runs the image by digest, so pushing the tag again and applying redeploys it.
data "google_artifact_registry_docker_image" "job" {
  location      = google_artifact_registry_repository.jiwa.location
  repository_id = google_artifact_registry_repository.jiwa.repository_id
  image_name    = "jiwa-job:${var.job_image_tag}"
}

resource "google_cloud_run_v2_job" "jiwa" {
  name                = "jiwa-job"
  location            = var.region
  deletion_protection = true

  template {
    task_count = 1
    template {
      service_account = google_service_account.job.email
      max_retries     = 1 # Cloud Run owns re-running a crashed job; it resumes from checkpoints
      timeout         = "${var.job_timeout_seconds}s"

      containers {
        image = data.google_artifact_registry_docker_image.job.self_link
        resources {
          limits = {
            cpu    = var.job_cpu
            memory = var.job_memory
          }
        }

        dynamic "env" {
          for_each = merge(local.common_env, {
            ANTHROPIC_MODEL        = var.anthropic_model
            ANTHROPIC_SCORE_MODEL  = var.anthropic_score_model
            FAL_MODEL              = var.fal_model
            JIWA_HEARTBEAT_SECONDS = "15"
          })
          content {
            name  = env.key
            value = env.value
          }
        }

        dynamic "env" {
          for_each = toset(local.job_secrets)
          content {
            name = env.value
            value_source {
              secret_key_ref {
                secret  = google_secret_manager_secret.s[env.value].secret_id
                version = "latest"
              }
            }
          }
        }
      }
    }
  }

  # Every secret has a version (secrets.tf) and the grants have propagated (iam.tf).
  depends_on = [data.google_secret_manager_secret_version.filled, time_sleep.runtime_iam]
}
