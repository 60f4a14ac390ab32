# Phase 1 of a deploy from zero (README "Deploy", docs/decisions/0006-deploy-from-zero.md):
#
#   terraform apply -var-file=prod.tfvars -target=terraform_data.bootstrap
#
# creates only what the operator needs before the full apply: the APIs, the Artifact
# Registry repository, the build identity with its roles and its bucket, and the secrets
# (empty). Nothing in it needs a secret version or the job image: the tests walk its
# dependencies (tests/infra/test_deploy_from_zero.py). The operator then adds a version
# to each secret and builds the job image; the full apply checks both before it deploys
# anything that reads them (secrets.tf, job.tf).

# Service activation is eventually consistent: google_project_service can return before
# the API accepts calls ("Newly activated service errors" in the provider's guide
# website/docs/guides/google_project_service.html.markdown, whose mitigation is this
# time_sleep). Every other resource depends on this wait, directly or through a reference.
resource "time_sleep" "apis" {
  create_duration = "60s"
  triggers = {
    apis = join(",", sort([for s in google_project_service.apis : s.service]))
  }
}

# The build identity. Since Cloud Build's 2024 change, new projects build as the Compute
# Engine default account, which has no roles in organisations created after May 2024, so
# every build names this account: each function's build_config.service_account
# (functions.tf) and the job image's `gcloud builds submit --service-account` (README).
resource "google_service_account" "build" {
  account_id   = "jiwa-build"
  display_name = "Jiwa builds: the functions' and the job image's"
  depends_on   = [time_sleep.apis]
}

# The roles of the provider's "Cloudfunctions2 Basic Builder" example
# (website/docs/r/cloudfunctions2_function.html.markdown), which are also the ones the
# Cloud Run functions "build service account" page lists: write build logs, push the
# built image (functions push to the gcf-artifacts repository that Cloud Functions
# creates, hence project level), read the staged sources. Nothing else: no deploy rights.
locals {
  build_roles = ["roles/logging.logWriter", "roles/artifactregistry.writer", "roles/storage.objectAdmin"]
}

resource "google_project_iam_member" "build" {
  for_each = toset(local.build_roles)
  project  = var.project_id
  role     = each.value
  member   = "serviceAccount:${google_service_account.build.email}"
}

# "builder permissions need to stabilize before it can pull the source zip": the same
# example waits 60 s between these grants and the function that builds with them.
resource "time_sleep" "build_iam" {
  create_duration = "60s"
  triggers = {
    grants = join(",", sort([for g in google_project_iam_member.build : g.role]))
  }
}

# Staging and logs of `gcloud builds submit` for the job image. A build that runs as a
# user-specified service account must keep its logs in Cloud Logging or in a bucket of
# our own (Cloud Build, "Configure user-specified service accounts"); `--tag` builds
# cannot choose Cloud Logging, so they get this bucket (--gcs-log-dir and
# --gcs-source-staging-dir). Its objects are build inputs and logs: kept 30 days.
resource "google_storage_bucket" "build" {
  #checkov:skip=CKV_GCP_62:holds only build sources and build logs; admin access is in Cloud Audit Logs
  #checkov:skip=CKV_GCP_78:staging and logs expire after 30 days; versions of them have no use
  name                        = "${var.project_id}-jiwa-build"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [time_sleep.apis]
}

# The bootstrap phase as one target: -target also applies everything these depend on.
resource "terraform_data" "bootstrap" {
  depends_on = [
    google_project_service.apis,
    time_sleep.apis,
    google_artifact_registry_repository.jiwa,
    google_service_account.build,
    google_project_iam_member.build,
    time_sleep.build_iam,
    google_storage_bucket.build,
    google_secret_manager_secret.s,
  ]
}
