# Least privilege, one identity per function and one for the job. No primitive roles, and
# nothing project-wide that a single resource can hold (issue #15, item 5).
locals {
  # Firestore has no finer grant than the project: every runtime identity reads and
  # writes documents (jobs, guards, rate limits, deliveries).
  datastore_users = toset(concat(keys(local.functions), ["job"]))

  # Who publishes to which topic, granted on that topic only (jiwa/events.py publishes;
  # the code path that does it is named on each line).
  topic_publishers = {
    whatsapp_webhook = [local.requested_topic, local.progress_topic] # asks for the job's standby (handlers/webhook.py); re-sends the event of a failed delivery (handlers/statuses.py)
    instagram_oauth  = [local.requested_topic, local.progress_topic] # queues the job and sends the first event (handlers/oauth.py)
    dispatcher       = ["${local.requested_topic}-dead-letter"]      # dead-letters a poison message (handlers/poison.py)
    notifier         = ["${local.progress_topic}-dead-letter"]       # dead-letters a poison message (handlers/poison.py)
    sweeper          = [local.requested_topic, local.progress_topic] # re-dispatches a lost job, fails a stuck one (handlers/sweeper.py)
    job              = [local.progress_topic]                        # every wave's progress (job/runner.py)
  }
  publisher_grants = merge([
    for identity, topics in local.topic_publishers : {
      for topic in topics : "${identity}/${topic}" => { identity = identity, topic = topic }
    }
  ]...)

  # Every topic by name, main and dead-letter, so that a grant references its topic.
  topics_by_name = merge(
    { for k, t in google_pubsub_topic.main : t.name => t.name },
    { for k, t in google_pubsub_topic.dead_letter : t.name => t.name },
  )
  runtime_members = merge(
    { for k, sa in google_service_account.fn : k => "serviceAccount:${sa.email}" },
    { job = "serviceAccount:${google_service_account.job.email}" },
  )
}

resource "google_project_iam_member" "datastore" {
  for_each = local.datastore_users
  project  = var.project_id
  role     = "roles/datastore.user"
  member   = local.runtime_members[each.value]
}

resource "google_pubsub_topic_iam_member" "publishers" {
  for_each = local.publisher_grants
  topic    = local.topics_by_name[each.value.topic]
  role     = "roles/pubsub.publisher"
  member   = local.runtime_members[each.value.identity]
}

# The dispatcher runs the job with a JOB_ID override (jiwa/launchers.py: RunJob only; it
# never reads the operation or the execution). RunJob needs run.jobs.run, and its
# `overrides` need run.jobs.runWithOverrides (Cloud Run Admin API, jobs.run reference).
# roles/run.jobsExecutorWithOverrides ("Can execute and cancel Cloud Run jobs with
# overrides", Cloud Run IAM roles) is the narrowest predefined role with both; unlike
# roles/run.developer it cannot change the job's image, its environment or its secret
# references, nor read them. Granted on the job only.
resource "google_cloud_run_v2_job_iam_member" "dispatcher_runs_job" {
  name     = google_cloud_run_v2_job.jiwa.name
  location = var.region
  role     = "roles/run.jobsExecutorWithOverrides"
  member   = local.runtime_members["dispatcher"]
}

# The sweeper reads the status of the job's executions (GetExecution in
# jiwa/launchers.py). roles/run.viewer on the job, not on the project: the job's
# executions are under it.
resource "google_cloud_run_v2_job_iam_member" "sweeper_reads_executions" {
  name     = google_cloud_run_v2_job.jiwa.name
  location = var.region
  role     = "roles/run.viewer"
  member   = local.runtime_members["sweeper"]
}

# actAs on the job's account only, kept from the first version: the Cloud Run documents
# ask for it when a job is created or updated, and do not say whether RunJob checks it.
# The dispatcher holds no permission that creates or changes a resource, so it cannot
# attach the account to anything.
resource "google_service_account_iam_member" "dispatcher_acts_as_job" {
  service_account_id = google_service_account.job.name
  role               = "roles/iam.serviceAccountUser"
  member             = local.runtime_members["dispatcher"]
}

# IAM changes propagate in about a minute, and Cloud Run checks some of them when it
# deploys: a revision whose service account cannot yet read a secret fails with
# "Permission denied on secret ... for Revision service account" (the first apply fails,
# the second succeeds: hashicorp/terraform-provider-google#13786 for the job, #16350 for
# a service). The provider's own Cloud Functions builder example waits 60 s after its
# grants for the same reason. The functions and the job wait for this.
resource "time_sleep" "runtime_iam" {
  create_duration = "60s"
  triggers = {
    grants = sha1(jsonencode(concat(
      [for g in google_secret_manager_secret_iam_member.functions : "${g.secret_id} ${g.member}"],
      [for g in google_secret_manager_secret_iam_member.job : "${g.secret_id} ${g.member}"],
      [for g in google_project_iam_member.datastore : g.member],
      [for g in google_pubsub_topic_iam_member.publishers : "${g.topic} ${g.member}"],
    )))
  }
}

# Operators (`jiwa pubsub replay|snapshot|seek`, issue #19): exactly what Pub/Sub's own
# replay needs, and no function's or the job's identity changes. Per the Pub/Sub access
# control table (https://cloud.google.com/pubsub/docs/access-control): creating a
# subscription takes pubsub.subscriptions.create on the project and
# pubsub.topics.attachSubscription on the topic; Seek and pull take
# pubsub.subscriptions.consume (and pubsub.snapshots.seek for a snapshot); a snapshot
# takes pubsub.snapshots.create on the project and consume on its subscription. Project
# level because the replay subscriptions are made at run time, under names not known here.
resource "google_project_iam_custom_role" "replay_operator" {
  project     = var.project_id
  role_id     = "jiwaReplayOperator"
  title       = "Jiwa replay operator"
  description = "Seek-based replay and snapshots of the Jiwa topics (jiwa pubsub)."
  depends_on  = [time_sleep.apis]
  permissions = [
    "pubsub.subscriptions.create", "pubsub.subscriptions.delete", "pubsub.subscriptions.get",
    "pubsub.subscriptions.list", "pubsub.subscriptions.consume",
    "pubsub.topics.attachSubscription", "pubsub.topics.get",
    "pubsub.snapshots.create", "pubsub.snapshots.delete", "pubsub.snapshots.get",
    "pubsub.snapshots.list", "pubsub.snapshots.seek",
  ]
}

resource "google_project_iam_member" "replay_operators" {
  for_each = toset(var.replay_operators)
  project  = var.project_id
  role     = google_project_iam_custom_role.replay_operator.id
  member   = each.value
}

# `--to notifier|dispatcher` republishes into our two topics: publisher on those only,
# like every other publisher here (never on the project).
resource "google_pubsub_topic_iam_member" "replay_operators" {
  for_each = { for pair in setproduct(var.replay_operators, keys(google_pubsub_topic.main)) :
  "${pair[0]}/${pair[1]}" => { member = pair[0], topic = pair[1] } }
  topic  = google_pubsub_topic.main[each.value.topic].name
  role   = "roles/pubsub.publisher"
  member = each.value.member
}
