resource "google_artifact_registry_repository" "jiwa" {
  #checkov:skip=CKV_GCP_84:Google-managed encryption; the image holds code only, no data or secrets
  location      = var.region
  repository_id = "jiwa"
  format        = "DOCKER"
  description   = "The jiwa-job image (Dockerfile at the repository root)."
  depends_on    = [google_project_service.apis]
}

resource "google_service_account" "job" {
  account_id   = "jiwa-job"
  display_name = "Jiwa onboarding job"
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
        image = var.job_image
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

  depends_on = [google_project_service.apis, google_secret_manager_secret_iam_member.job]
}
