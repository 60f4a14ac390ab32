locals {
  apis = [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com", # project IAM members
    "cloudscheduler.googleapis.com",
    "eventarc.googleapis.com",
    "firebaserules.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",    # monitoring.tf: log-based metrics
    "monitoring.googleapis.com", # monitoring.tf: alert policies
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]

  requested_topic = "onboarding-requested"
  progress_topic  = "onboarding-progress"

  # The functions: trigger kind, secrets each may read, and its own environment.
  # concurrency: requests one instance serves at once (jiwa/topology.py FUNCTION_CONCURRENCY,
  # which the local stack runs and an infra test compares with these)
  functions = {
    whatsapp_webhook = {
      concurrency = 32
      public      = true
      secrets     = ["WHATSAPP_ACCESS_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "OAUTH_STATE_SECRET", "PHONE_DIGEST_KEY"]
    }
    instagram_oauth = {
      concurrency = 8
      public      = true
      secrets     = ["WHATSAPP_ACCESS_TOKEN", "INSTAGRAM_APP_SECRET", "OAUTH_STATE_SECRET"] # seals tokens with TOKEN_PUBLIC_KEY: can encrypt, not decrypt (decision 0012)
    }
    dispatcher = {
      concurrency = 8
      public      = false
      secrets     = []
    }
    notifier = {
      concurrency = 16
      public      = false
      secrets     = ["WHATSAPP_ACCESS_TOKEN", "PHONE_DIGEST_KEY"]
    }
    sweeper = {
      concurrency = 1
      public      = false
      secrets     = []
    }
  }

  secrets = toset([
    "WHATSAPP_ACCESS_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN",
    "INSTAGRAM_APP_SECRET", "ANTHROPIC_API_KEY", "FAL_KEY",
    "OAUTH_STATE_SECRET", "TOKEN_ENCRYPTION_KEY", "TOKEN_PRIVATE_KEY", "PHONE_DIGEST_KEY",
  ])

  # Plain settings every function and the job read (jiwa/settings.py).
  common_env = {
    GOOGLE_CLOUD_PROJECT     = var.project_id
    WHATSAPP_PHONE_NUMBER_ID = var.whatsapp_phone_number_id
    INSTAGRAM_APP_ID         = var.instagram_app_id
    TOKEN_PUBLIC_KEY         = var.token_public_key # public: seals Instagram tokens for the job
    INSTAGRAM_REDIRECT_URI   = "https://${var.region}-${var.project_id}.cloudfunctions.net/instagram-oauth"
    JIWA_DEFAULT_LANGUAGE    = var.default_language
    JIWA_REQUESTED_TOPIC     = local.requested_topic
    JIWA_PROGRESS_TOPIC      = local.progress_topic
    CLOUD_RUN_JOB_NAME       = "jiwa-job"
    CLOUD_RUN_REGION         = var.region
    JIWA_JOB_MAX_ATTEMPTS    = "2"
    JIWA_LOG_LEVEL           = "INFO"
    META_GRAPH_VERSION       = var.meta_graph_version
    JIWA_IMAGE_BUCKET        = local.image_bucket
    # admission (docs/decisions/0011): onboardings at once, and started per minute
    JIWA_ADMISSION_MAX_RUNNING       = tostring(var.admission_max_running)
    JIWA_ADMISSION_STARTS_PER_MINUTE = tostring(var.admission_starts_per_minute)
    # standby (docs/decisions/0019): the webhook asks for it, the job waits this long
    JIWA_STANDBY_SECONDS = tostring(var.standby_seconds)
  }
  image_bucket = "${var.project_id}-jiwa-images" # storage.tf
}

resource "google_project_service" "apis" {
  for_each           = toset(local.apis)
  service            = each.value
  disable_on_destroy = false
}
