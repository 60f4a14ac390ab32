# Secrets are created empty: values are added out of band (README "Deploy"), so they
# never enter Terraform state. Each identity may read only the secrets it uses.
resource "google_secret_manager_secret" "s" {
  for_each  = local.secrets
  secret_id = lower(replace(each.value, "_", "-"))

  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

locals {
  function_secret_grants = merge([
    for fn, cfg in local.functions : {
      for secret in cfg.secrets : "${fn}/${secret}" => { function = fn, secret = secret }
    }
  ]...)
  job_secrets = ["ANTHROPIC_API_KEY", "FAL_KEY", "TOKEN_ENCRYPTION_KEY"]
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
