resource "google_firestore_database" "default" {
  name                              = "(default)"
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  depends_on                        = [time_sleep.apis]
}

# The composite indexes of the queries the code makes (JobStore._select in jiwa/store.py;
# the tests record every query the store runs and check each against these, with
# Firestore's rules, in tests/infra/test_indexes.py):
# - JobStore.stale (sweeper): status == and timestamp <, ordered by the timestamp
#   ascending (Firestore's implicit order for an inequality);
# - JobStore.list_jobs (jiwa jobs list --status): status ==, newest first.
locals {
  job_indexes = {
    status_heartbeat   = { field = "heartbeatAt", order = "ASCENDING" }
    status_queued      = { field = "queuedAt", order = "ASCENDING" }
    status_created     = { field = "createdAt", order = "ASCENDING" }
    status_created_new = { field = "createdAt", order = "DESCENDING" }
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
    field_path = each.value.field
    order      = each.value.order
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

# Per-user pacing records (jiwa/pacing.py) carry `expireAt`, a day after the user's last
# turn: Firestore's TTL policy deletes them, so idle users leave nothing behind. The field
# is written, never queried, so it keeps no single-field index (index_config {}).
resource "google_firestore_field" "pacing_ttl" {
  database   = google_firestore_database.default.name
  collection = "pacing"
  field      = "expireAt"

  ttl_config {}
  index_config {}
}
