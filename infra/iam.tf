# Least privilege, one identity per function and one for the job. No primitive roles.
locals {
  # project-level roles each identity needs
  project_roles = {
    whatsapp_webhook = ["roles/datastore.user"]                                               # jobs, inbound guard, rate limits
    instagram_oauth  = ["roles/datastore.user", "roles/pubsub.publisher"]                     # queue the job, publish requested + first event
    dispatcher       = ["roles/datastore.user", "roles/pubsub.publisher"]                     # claim; dead-letter poison messages
    notifier         = ["roles/datastore.user", "roles/pubsub.publisher"]                     # read jobs, send guard; dead-letter poison messages
    sweeper          = ["roles/datastore.user", "roles/pubsub.publisher", "roles/run.viewer"] # stuck jobs; executions' status
  }
  project_grants = merge([
    for fn, roles in local.project_roles : {
      for role in roles : "${fn}/${role}" => { function = fn, role = role }
    }
  ]...)
}

resource "google_project_iam_member" "functions" {
  for_each = local.project_grants
  project  = var.project_id
  role     = each.value.role
  member   = "serviceAccount:${google_service_account.fn[each.value.function].email}"
}

resource "google_project_iam_member" "job" {
  for_each = toset(["roles/datastore.user", "roles/pubsub.publisher"])
  project  = var.project_id
  role     = each.value
  member   = "serviceAccount:${google_service_account.job.email}"
}

# The dispatcher (and the sweeper's re-dispatch through it) runs the job with a JOB_ID
# override: run.jobs.runWithOverrides is in roles/run.developer, granted on the job only.
resource "google_cloud_run_v2_job_iam_member" "dispatcher_runs_job" {
  name     = google_cloud_run_v2_job.jiwa.name
  location = var.region
  role     = "roles/run.developer"
  member   = "serviceAccount:${google_service_account.fn["dispatcher"].email}"
}

# Running the job as its service account needs actAs on that account.
resource "google_service_account_iam_member" "dispatcher_acts_as_job" {
  service_account_id = google_service_account.job.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.fn["dispatcher"].email}"
}
