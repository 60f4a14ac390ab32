# The five functions (2nd gen). Sources come from build/<function>/ (./emulator.sh build),
# zipped here; the object is named by its hash, so a code change redeploys.
resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:holds only function source archives; admin access is in Cloud Audit Logs
  name                        = "${var.project_id}-jiwa-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  versioning {
    enabled = true
  }
  lifecycle_rule {
    condition {
      num_newer_versions = 5
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [time_sleep.apis]
}

data "archive_file" "source" {
  for_each    = local.functions
  type        = "zip"
  source_dir  = "${path.module}/../build/${each.key}"
  output_path = "${path.module}/../build/${each.key}.zip"
}

resource "google_storage_bucket_object" "source" {
  for_each = local.functions
  name     = "${each.key}/${data.archive_file.source[each.key].output_md5}.zip"
  bucket   = google_storage_bucket.sources.name
  source   = data.archive_file.source[each.key].output_path
}

resource "google_service_account" "fn" {
  for_each     = local.functions
  account_id   = "jiwa-${replace(each.key, "_", "-")}"
  display_name = "Jiwa function ${each.key}"
  depends_on   = [time_sleep.apis]
}

resource "google_cloudfunctions2_function" "fn" {
  #checkov:skip=CKV_GCP_124:ingress is per function: ALLOW_ALL only for the public webhook and OAuth callback, internal-only for the rest
  for_each = local.functions
  name     = replace(each.key, "_", "-")
  location = var.region

  build_config {
    runtime     = "python312"
    entry_point = "handle"
    # The fully-qualified name (projects/P/serviceAccounts/EMAIL, hence .id) of the
    # dedicated build identity (bootstrap.tf), as in the provider's "Basic Builder" example.
    service_account = google_service_account.build.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.source[each.key].name
      }
    }
  }

  service_config {
    max_instance_count             = var.function_max_instances
    available_memory               = "512Mi"
    timeout_seconds                = 60
    service_account_email          = google_service_account.fn[each.key].email
    ingress_settings               = each.value.public ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    # One request at a time is the default; more needs at least 1 vCPU, and
    # functions-framework's gunicorn needs as many threads (Cloud Run functions docs,
    # "Concurrency"). Null leaves the CPU derived from the memory, as before.
    max_instance_request_concurrency = each.value.concurrency
    available_cpu                    = each.value.concurrency > 1 ? "1" : null
    environment_variables            = merge(local.common_env, { THREADS = tostring(each.value.concurrency) })

    dynamic "secret_environment_variables" {
      for_each = toset(each.value.secrets)
      content {
        key        = secret_environment_variables.value
        project_id = var.project_id
        secret     = google_secret_manager_secret.s[secret_environment_variables.value].secret_id
        version    = "latest"
      }
    }
  }

  # Deployed only once every secret has a version (secrets.tf), the runtime grants have
  # propagated (iam.tf) and so have the build identity's (bootstrap.tf).
  depends_on = [
    data.google_secret_manager_secret_version.filled,
    time_sleep.runtime_iam,
    time_sleep.build_iam,
  ]
}

# Invoker grants go on the function's Cloud Run service, named by
# service_config[0].service (the provider's "Name of the service associated with a
# Function"), not by the function's name: the two are equal today only by convention.
# Public only where Meta and the user's browser must reach us; both check signatures.
resource "google_cloud_run_service_iam_member" "public" {
  for_each = { for k, v in local.functions : k => v if v.public }
  location = var.region
  service  = google_cloudfunctions2_function.fn[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers" #checkov:skip=CKV_GCP_102:the WhatsApp webhook and the OAuth callback are public by design; each verifies an HMAC signature
}

resource "google_cloud_run_service_iam_member" "push_invoker" {
  for_each = toset(["dispatcher", "notifier"])
  location = var.region
  service  = google_cloudfunctions2_function.fn[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.pusher.email}"
}

resource "google_cloud_run_service_iam_member" "scheduler_invoker" {
  location = var.region
  service  = google_cloudfunctions2_function.fn["sweeper"].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}
