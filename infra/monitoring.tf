# What the operator sees (issue #21): log-based metrics over the JSON log lines the code
# writes (jiwa/logs.py: `outcome`, `code`, `queueLength`, `oldestWaitSeconds`) and alert
# policies on them, sent to var.alert_email and var.alert_notification_channels.
# Functions (2nd gen) log as Cloud Run services (resource.type cloud_run_revision, the
# service named as the function); the job as resource.type cloud_run_job.

locals {
  job_logs     = "resource.type=\"cloud_run_job\" AND resource.labels.job_name=\"${google_cloud_run_v2_job.jiwa.name}\""
  sweeper_logs = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${google_cloudfunctions2_function.fn["sweeper"].name}\""

  alert_channels = concat(google_monitoring_notification_channel.email[*].id, var.alert_notification_channels)
}

resource "google_monitoring_notification_channel" "email" {
  count        = var.alert_email == "" ? 0 : 1
  display_name = "Jiwa operator"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }
  depends_on = [time_sleep.apis]
}

# --- log-based metrics ---------------------------------------------------------------

resource "google_logging_metric" "job_outcomes" {
  name        = "jiwa_job_outcomes"
  description = "Onboardings that ended, by outcome (completed, or failed on the last attempt)."
  filter      = "${local.job_logs} AND jsonPayload.outcome=(\"completed\" OR \"failed\")"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "completed or failed"
    }
  }
  label_extractors = {
    outcome = "EXTRACT(jsonPayload.outcome)"
  }
  depends_on = [time_sleep.apis]
}

resource "google_logging_metric" "dead_lettered" {
  name        = "jiwa_dead_lettered"
  description = "Pub/Sub messages our consumers dead-lettered after their last failed delivery (jiwa/handlers/poison.py)."
  filter      = "jsonPayload.outcome=\"dead_lettered\""
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
  depends_on = [time_sleep.apis]
}

resource "google_logging_metric" "sweeper_errors" {
  name        = "jiwa_sweeper_errors"
  description = "Errors the sweeper itself logged: the backstop of lost jobs and admission slots is failing."
  filter      = "${local.sweeper_logs} AND severity>=ERROR"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
  depends_on = [time_sleep.apis]
}

resource "google_logging_metric" "admission_queue_length" {
  name            = "jiwa_admission_queue_length"
  description     = "Onboardings waiting in the admission line, as the sweeper counts them each run."
  filter          = "${local.sweeper_logs} AND jsonPayload.queueLength>=0"
  value_extractor = "EXTRACT(jsonPayload.queueLength)"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "1"
  }
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 2
      scale              = 1
    }
  }
  depends_on = [time_sleep.apis]
}

resource "google_logging_metric" "admission_oldest_wait" {
  name            = "jiwa_admission_oldest_wait"
  description     = "How long the oldest onboarding in the admission line has waited, each sweeper run."
  filter          = "${local.sweeper_logs} AND jsonPayload.oldestWaitSeconds>=0"
  value_extractor = "EXTRACT(jsonPayload.oldestWaitSeconds)"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "s"
  }
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 2
      scale              = 1
    }
  }
  depends_on = [time_sleep.apis]
}

resource "google_logging_metric" "whatsapp_failures" {
  name        = "jiwa_whatsapp_failures"
  description = "WhatsApp messages refused at send or reported failed by a status callback, by error code."
  filter      = "jsonPayload.outcome=\"whatsapp_failed\""
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "code"
      value_type  = "STRING"
      description = "the WhatsApp Cloud API error code (131026, 131047, 131056, ...)"
    }
  }
  label_extractors = {
    code = "EXTRACT(jsonPayload.code)"
  }
  depends_on = [time_sleep.apis]
}

# --- alert policies ------------------------------------------------------------------

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "Jiwa: messages dead-lettered"
  combiner              = "OR"
  notification_channels = local.alert_channels
  conditions {
    display_name = "a consumer dead-lettered a message"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.dead_lettered.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
  conditions {
    # The subscription's own dead_letter_policy (the backstop, decision 0002) forwards
    # without our code seeing it: messages waiting in a dead-letter subscription.
    display_name = "messages wait in a dead-letter subscription"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=ends_with(\"-dead-letter-sub\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }
  documentation {
    mime_type = "text/markdown"
    content   = "A Pub/Sub message failed every delivery. Read it with `jiwa dlq list --topic T` and `jiwa dlq show`, fix the cause, then `jiwa dlq redrive` (README 'Operating')."
  }
}

resource "google_monitoring_alert_policy" "job_failure_rate" {
  display_name          = "Jiwa: onboardings failing"
  combiner              = "OR"
  notification_channels = local.alert_channels
  conditions {
    display_name = "share of the onboardings ended in 30 minutes that failed"
    condition_threshold {
      filter             = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.job_outcomes.name}\" AND resource.type=\"cloud_run_job\" AND metric.labels.outcome=\"failed\""
      denominator_filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.job_outcomes.name}\" AND resource.type=\"cloud_run_job\""
      comparison         = "COMPARISON_GT"
      threshold_value    = var.alert_job_failure_ratio
      duration           = "0s"
      aggregations {
        alignment_period     = "1800s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "1800s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
  documentation {
    mime_type = "text/markdown"
    content   = "Onboardings are failing. `jiwa jobs list --status FAILED` shows them with their error codes; `jiwa doctor` checks every dependency."
  }
}

resource "google_monitoring_alert_policy" "sweeper_errors" {
  display_name          = "Jiwa: the sweeper is failing"
  combiner              = "OR"
  notification_channels = local.alert_channels
  conditions {
    display_name = "the sweeper logged an error"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.sweeper_errors.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
  documentation {
    mime_type = "text/markdown"
    content   = "The sweeper finds lost jobs and frees admission slots; while it fails, stuck onboardings stay stuck. Read its logs: resource.labels.service_name=\"sweeper\"."
  }
}

resource "google_monitoring_alert_policy" "admission_line" {
  display_name          = "Jiwa: the admission line is long or slow"
  combiner              = "OR"
  notification_channels = local.alert_channels
  conditions {
    display_name = "more onboardings wait than var.alert_queue_length"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.admission_queue_length.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_queue_length
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_PERCENTILE_99"
        cross_series_reducer = "REDUCE_MAX"
      }
    }
  }
  conditions {
    display_name = "the oldest onboarding in line waited longer than var.alert_queue_wait_minutes"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.admission_oldest_wait.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_queue_wait_minutes * 60
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_PERCENTILE_99"
        cross_series_reducer = "REDUCE_MAX"
      }
    }
  }
  documentation {
    mime_type = "text/markdown"
    content   = "More onboardings arrive than JIWA_ADMISSION_MAX_RUNNING / JIWA_ADMISSION_STARTS_PER_MINUTE let start. `jiwa jobs list --status QUEUED` shows the line; raise the limits if the providers' quotas allow."
  }
}

resource "google_monitoring_alert_policy" "whatsapp_failures" {
  display_name          = "Jiwa: WhatsApp messages failing"
  combiner              = "OR"
  notification_channels = local.alert_channels
  conditions {
    display_name = "WhatsApp failures of one code in 10 minutes"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.whatsapp_failures.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_whatsapp_failures
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.labels.code"]
      }
    }
  }
  documentation {
    mime_type = "text/markdown"
    content   = "The incident names the WhatsApp error code. 131056: pair rate (pacing); 131047: outside the 24-hour window (held until the user writes); 131026/131051: undeliverable (README 'What the user receives')."
  }
}
