resource "google_firestore_database" "default" {
  name                              = "(default)"
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  depends_on                        = [google_project_service.apis]
}

# The composite indexes of the queries the code makes (jiwa/store.py):
# JobStore.stale (sweeper) filters on status and a timestamp; JobStore.list_jobs orders
# one status's jobs by creation time.
locals {
  job_indexes = {
    status_heartbeat = "heartbeatAt"
    status_queued    = "queuedAt"
    status_created   = "createdAt"
  }
}

resource "google_firestore_index" "jobs" {
  for_each   = local.job_indexes
  database   = google_firestore_database.default.name
  collection = "onboardingJobs"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = each.value
    order      = each.key == "status_created" ? "DESCENDING" : "ASCENDING"
  }
}

# Server-only system: the rules deny every client (the same file the emulator runs with).
resource "google_firebaserules_ruleset" "firestore" {
  provider = google-beta
  source {
    files {
      name    = "firestore.rules"
      content = file("${path.module}/../firestore.rules")
    }
  }
  depends_on = [google_firestore_database.default]
}

resource "google_firebaserules_release" "firestore" {
  provider     = google-beta
  name         = "cloud.firestore"
  ruleset_name = google_firebaserules_ruleset.firestore.name
}
