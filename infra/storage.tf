# Our copy of each kept image (issue #18, jiwa/image_store.py): the job writes it once,
# the notifier reads it to upload to WhatsApp's media endpoint (decision 0008). Nobody
# else reads it: no public access, no signed URLs, one access model (uniform).
resource "google_storage_bucket" "images" {
  #checkov:skip=CKV_GCP_62:access is by two service identities only; data access is in Cloud Audit Logs
  name                        = local.image_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  # Versioning keeps an image a mistaken delete or overwrite would lose; the job writes
  # each object once (ifGenerationMatch=0), so versions only appear through such mistakes.
  versioning {
    enabled = true
  }
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [time_sleep.apis]
}

# The job creates objects and nothing else (objectCreator has no read, list or delete).
resource "google_storage_bucket_iam_member" "job_writes_images" {
  bucket = google_storage_bucket.images.name
  role   = "roles/storage.objectCreator"
  member = "serviceAccount:${google_service_account.job.email}"
}

# The notifier reads the previews it sends.
resource "google_storage_bucket_iam_member" "notifier_reads_images" {
  bucket = google_storage_bucket.images.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.fn["notifier"].email}"
}
