# Secrets are created empty in the bootstrap phase (bootstrap.tf): the operator adds each
# value as a version (README "Deploy"), so values never enter Terraform state. Each
# identity may read only the secrets it uses.
resource "google_secret_manager_secret" "s" {
  for_each  = local.secrets
  secret_id = lower(replace(each.value, "_", "-"))

  replication {
    auto {}
  }
  depends_on = [time_sleep.apis]
}

# A secret must have a version before anything that reads it is deployed: Cloud Run
# resolves `versions/latest` when it creates a function's revision or the job ("Secret
# .../versions/latest was not found"), so a first apply with empty secrets fails halfway.
# This reads each secret's latest version's metadata only (fetch_secret_data = false,
# provider 6.43+, website/docs/d/secret_manager_secret_version.html.markdown): no value
# enters the state, and a secret with no version stops the plan with a 404 on
# .../secrets/NAME/versions/latest, before anything is created. The functions and the job
# depend on it, as the provider's examples depend on a secret version. See
# docs/decisions/0006-deploy-from-zero.md for why Terraform does not create a placeholder
# version instead.
data "google_secret_manager_secret_version" "filled" {
  for_each          = google_secret_manager_secret.s
  secret            = each.value.secret_id
  fetch_secret_data = false
}

locals {
  function_secret_grants = merge([
    for fn, cfg in local.functions : {
      for secret in cfg.secrets : "${fn}/${secret}" => { function = fn, secret = secret }
    }
  ]...)
  # TOKEN_ENCRYPTION_KEY: only to read tokens sealed before decision 0012; drop it after
  job_secrets = ["ANTHROPIC_API_KEY", "FAL_KEY", "TOKEN_PRIVATE_KEY", "TOKEN_ENCRYPTION_KEY"]
}

resource "google_secret_manager_secret_iam_member" "functions" {
  for_each  = local.function_secret_grants
  secret_id = google_secret_manager_secret.s[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.fn[each.value.function].email}"
}

resource "google_secret_manager_secret_iam_member" "job" {
  for_each  = toset(local.job_secrets)
  secret_id = google_secret_manager_secret.s[each.value].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.job.email}"
}
