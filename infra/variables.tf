variable "project_id" {
  description = "The Google Cloud project to deploy into."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid Google Cloud project id."
  }
}

variable "region" {
  description = "Region of the functions, the Cloud Run Job, Artifact Registry and the scheduler."
  type        = string
  default     = "asia-southeast2"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must look like asia-southeast2."
  }
}

variable "firestore_location" {
  description = "Location of the Firestore (native mode) database."
  type        = string
  default     = "asia-southeast2"
}

variable "job_image_tag" {
  description = "Tag of the job image (the repository's Dockerfile) in the jiwa Artifact Registry repository: REGION-docker.pkg.dev/PROJECT/jiwa/jiwa-job:TAG, pushed before the full apply (README 'Deploy'). The job runs it by digest."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.job_image_tag))
    error_message = "job_image_tag must be a Docker tag: letters, digits, _ . -, at most 128 characters, not starting with . or -."
  }
}

variable "job_cpu" {
  description = "vCPUs of the Cloud Run Job task (the job is I/O-bound: it waits on Claude and fal)."
  type        = string
  default     = "1"

  validation {
    condition     = contains(["1", "2", "4"], var.job_cpu)
    error_message = "job_cpu must be 1, 2 or 4."
  }
}

variable "job_memory" {
  description = "Memory of the Cloud Run Job task."
  type        = string
  default     = "512Mi"
}

variable "job_timeout_seconds" {
  description = "Task timeout of the Cloud Run Job (at least 30 minutes)."
  type        = number
  default     = 1800

  validation {
    condition     = var.job_timeout_seconds >= 1800 && var.job_timeout_seconds <= 86400
    error_message = "job_timeout_seconds must be between 1800 and 86400."
  }
}

variable "whatsapp_phone_number_id" {
  description = "The WhatsApp Business phone number id (not a secret)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+$", var.whatsapp_phone_number_id))
    error_message = "whatsapp_phone_number_id is numeric."
  }
}

variable "instagram_app_id" {
  description = "The Instagram app id (not a secret)."
  type        = string
}

variable "anthropic_model" {
  description = "Claude model of the brand, products and calendar waves. Models retire on published dates (the anthropic SDK's deprecation table); run `jiwa doctor` after a change."
  type        = string
  default     = "claude-sonnet-5-5"
}

variable "anthropic_score_model" {
  description = "Claude model that scores each image (a short vision task; a smaller, faster model)."
  type        = string
  default     = "claude-haiku-5-5"
}

variable "meta_graph_version" {
  description = "Graph API version for WhatsApp and Instagram calls. Each expires about two years after its successor ships (Meta's version changelog); v26.0 has no date yet."
  type        = string
  default     = "v26.0"

  validation {
    condition     = can(regex("^v[0-9]+\\.0$", var.meta_graph_version))
    error_message = "meta_graph_version looks like v26.0."
  }
}

variable "fal_model" {
  description = "fal model id used for images."
  type        = string
  default     = "fal-ai/flux/schnell"
}

variable "default_language" {
  description = "Language of replies when a message does not tell (id or en)."
  type        = string
  default     = "id"

  validation {
    condition     = contains(["id", "en"], var.default_language)
    error_message = "default_language must be id or en."
  }
}

variable "sweep_schedule" {
  description = "Cron schedule of the sweeper."
  type        = string
  default     = "*/5 * * * *"
}

variable "function_max_instances" {
  description = "Upper bound of instances per function."
  type        = number
  default     = 20

  validation {
    condition     = var.function_max_instances >= 1 && var.function_max_instances <= 1000
    error_message = "function_max_instances must be between 1 and 1000."
  }
}

variable "replay_operators" {
  description = "Members (group:ops@example.com, user:…) given the replay operator role (iam.tf)."
  type        = list(string)
  default     = []
}

# Sized to the providers' quotas, not to demand: past what they allow, more at once only
# brings 429s, and a Claude call that waits out its retries fails the user. At Anthropic's
# and fal's entry-level limits (30,000 input tokens and 50 requests a minute, 2 images at
# once) 3 keeps the binding quota full (bench/results/load-latest.md); 50 there failed
# 122 of 200 onboardings on Claude's rate limit (`bench load --quick --max-running 50`).
# With higher limits: `./emulator.sh bench load --quota NAME=LIMIT` prints the size.
variable "admission_max_running" {
  description = "Onboardings running at once; the rest wait in line (docs/decisions/0011). Size it to the provider quotas: ./emulator.sh bench load --quota NAME=LIMIT."
  type        = number
  default     = 4
  validation {
    condition     = var.admission_max_running >= 1
    error_message = "admission_max_running must be at least 1."
  }
}

variable "standby_seconds" {
  description = "How long a job's process, started when the login link is sent, waits for the login (docs/decisions/0019); 0 turns the standby off. Each second is billed to the job's vCPU and memory, also for a login never finished."
  type        = number
  default     = 180
  validation {
    condition     = var.standby_seconds >= 0 && var.standby_seconds <= 600
    error_message = "standby_seconds must be between 0 (off) and 600."
  }
}

variable "admission_starts_per_minute" {
  description = "Onboardings started per minute: keep it under the Cloud Run Admin API's per-minute quota on job runs in the region (see the project's Quotas page)."
  type        = number
  default     = 30
  validation {
    condition     = var.admission_starts_per_minute >= 1
    error_message = "admission_starts_per_minute must be at least 1."
  }
}

variable "alert_email" {
  description = "Where the operator's alerts go (monitoring.tf): an email notification channel is made for it. Empty: none."
  type        = string
  default     = ""
}

variable "alert_notification_channels" {
  description = "Existing Cloud Monitoring notification channels (projects/P/notificationChannels/ID) that also receive the alerts."
  type        = list(string)
  default     = []
}

variable "alert_job_failure_ratio" {
  description = "Alert when more than this share of the onboardings that ended in 30 minutes failed."
  type        = number
  default     = 0.2
}

variable "alert_queue_length" {
  description = "Alert when more onboardings than this wait in the admission line."
  type        = number
  default     = 200
}

variable "alert_queue_wait_minutes" {
  description = "Alert when the oldest onboarding in the admission line has waited longer than this."
  type        = number
  default     = 30
}

variable "alert_whatsapp_failures" {
  description = "Alert when more WhatsApp messages than this fail (any code) in 10 minutes."
  type        = number
  default     = 10
}

variable "token_public_key" {
  description = "The public half of the Instagram-token key pair (base64url, 32 bytes): the OAuth callback seals tokens with it; the private half is the secret TOKEN_PRIVATE_KEY, read by the job only (decision 0012). README 'Deploy' makes the pair."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{43}=?$", var.token_public_key))
    error_message = "token_public_key must be 32 bytes, base64url-encoded (43 characters)."
  }
}
