# Topics, dead-letter topics, push subscriptions to the two Pub/Sub functions (with OIDC),
# the "tap" pull subscriptions for debugging, and the dead-letter subscriptions.
# Names match jiwa/topology.py.
locals {
  routes = {
    (local.requested_topic) = { subscription = "dispatcher-push", function = "dispatcher", ordered = false, ack_deadline = 60 }
    (local.progress_topic)  = { subscription = "notifier-push", function = "notifier", ordered = true, ack_deadline = 30 }
  }
  retention                  = "604800s" # 7 days: replay with Seek
  backstop_delivery_attempts = 10        # consumers dead-letter at 5 (decision 0002)
  pubsub_agent               = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

# The Pub/Sub service agent (service-NUMBER@gcp-sa-pubsub) exists only once the API has
# made it; granting a role to it before then fails. This asks the API for it (creating
# it if needed) after the API is enabled, and every grant to the agent references it.
resource "google_project_service_identity" "pubsub" {
  provider   = google-beta
  service    = "pubsub.googleapis.com"
  depends_on = [time_sleep.apis]
}

resource "google_pubsub_topic" "main" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; messages are short-lived progress events with no secrets
  for_each                   = local.routes
  name                       = each.key
  message_retention_duration = local.retention
  depends_on                 = [time_sleep.apis]
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; the same messages as the main topics
  for_each                   = local.routes
  name                       = "${each.key}-dead-letter"
  message_retention_duration = local.retention
  depends_on                 = [time_sleep.apis]
}

resource "google_pubsub_subscription" "push" {
  for_each                   = local.routes
  name                       = each.value.subscription
  topic                      = google_pubsub_topic.main[each.key].id
  ack_deadline_seconds       = each.value.ack_deadline
  enable_message_ordering    = each.value.ordered
  retain_acked_messages      = true
  message_retention_duration = local.retention

  push_config {
    push_endpoint = google_cloudfunctions2_function.fn[each.value.function].service_config[0].uri
    oidc_token {
      service_account_email = google_service_account.pusher.email
    }
  }

  retry_policy {
    minimum_backoff = "1s"
    maximum_backoff = "60s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = local.backstop_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "tap" {
  for_each                   = local.routes
  name                       = "${each.key}-tap"
  topic                      = google_pubsub_topic.main[each.key].id
  retain_acked_messages      = true
  message_retention_duration = local.retention
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "dead_letter" {
  for_each                   = local.routes
  name                       = "${each.key}-dead-letter-sub"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  retain_acked_messages      = true
  message_retention_duration = local.retention
  expiration_policy {
    ttl = ""
  }
}

# The Pub/Sub service agent forwards to the dead-letter topics and acks the source.
resource "google_pubsub_topic_iam_member" "agent_dead_letter_publisher" {
  for_each = local.routes
  topic    = google_pubsub_topic.dead_letter[each.key].name
  role     = "roles/pubsub.publisher"
  member   = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_source_subscriber" {
  for_each     = local.routes
  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# The push identity, allowed to invoke only the two Pub/Sub functions.
resource "google_service_account" "pusher" {
  account_id   = "jiwa-pubsub-push"
  display_name = "Pub/Sub push to the dispatcher and notifier"
  depends_on   = [time_sleep.apis]
}

resource "google_service_account_iam_member" "agent_mints_push_tokens" {
  service_account_id = google_service_account.pusher.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}
