resource "google_service_account" "scheduler" {
  account_id   = "jiwa-scheduler"
  display_name = "Cloud Scheduler calling the sweeper"
  depends_on   = [time_sleep.apis]
}

resource "google_cloud_scheduler_job" "sweeper" {
  name        = "jiwa-sweeper"
  region      = var.region
  schedule    = var.sweep_schedule
  time_zone   = "Asia/Jakarta"
  description = "Finds stuck onboarding jobs (jiwa/handlers/sweeper.py)."

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.fn["sweeper"].service_config[0].uri
    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.fn["sweeper"].service_config[0].uri
    }
  }

  retry_config {
    retry_count = 1
  }

  depends_on = [time_sleep.apis]
}
