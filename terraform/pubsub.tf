# Topics, the push subscriptions that drive the functions, and dead-lettering.
#
# Why explicit push subscriptions rather than event_trigger on the functions:
# a gen2 function's event_trigger creates an Eventarc trigger, and Eventarc creates and owns
# the Pub/Sub subscription behind it. Neither google_cloudfunctions2_function nor
# google_eventarc_trigger exposes a dead-letter policy for that subscription, and editing
# it out of band is undone or lost when Eventarc recreates it. event_trigger with
# RETRY_POLICY_RETRY alone retries for the whole retention period (7 days): a poison
# message would be retried for a week and then silently dropped, which the design forbids.
#
# So each function is driven by a push subscription we own: it pushes to the function's
# URL with an OIDC token of a dedicated invoker account (the only principal allowed to
# invoke it), retries with exponential backoff, and after var.max_delivery_attempts
# moves the message to the topic's dead-letter topic, where a pull subscription keeps
# it for inspection and replay (docs/DEPLOY.md) and the dead-letter alert fires.
# The functions are HTTP functions that read the push envelope itself ({message,
# subscription, deliveryAttempt}): functions-framework's CloudEvent conversion of a raw
# push body drops deliveryAttempt, which the rebuild lease relies on (stkpi.runtime).
# The functions therefore have no event_trigger: a second (Eventarc) subscription would
# deliver every message twice.

resource "google_pubsub_topic" "main" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption is sufficient for pipeline control messages (ids and GCS prefixes, no tenant data).
  for_each = local.topics

  name                       = each.value
  message_retention_duration = "604800s"

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption is sufficient for pipeline control messages.
  for_each = local.topics

  name                       = "${each.value}${local.dead_letter_suffix}"
  message_retention_duration = "604800s"

  depends_on = [google_project_service.apis]
}

# Holds dead letters until someone looks (a topic without a subscription drops them).
# Its num_undelivered_messages is what the "dead letters present" alert watches.
resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.topics

  name                       = "${each.value}${local.dead_letter_suffix}${local.dead_letter_hold_suffix}"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  message_retention_duration = "2678400s" # 31 days, Pub/Sub's maximum
  retain_acked_messages      = false
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = "" # never expire for inactivity: it is only read when something went wrong
  }
}

# One push subscription per function, on the topic it consumes.
resource "google_pubsub_subscription" "push" {
  for_each = local.functions

  name  = "${local.topics[each.value.topic]}-to-${each.value.name}"
  topic = google_pubsub_topic.main[each.value.topic].id

  # For push, the ack deadline is how long Pub/Sub waits for the HTTP response: at least
  # the function's timeout, so a slow delivery is not redelivered while still running.
  ack_deadline_seconds       = min(600, each.value.timeout + 30)
  message_retention_duration = "604800s"
  retain_acked_messages      = false

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "${var.retry_minimum_backoff_seconds}s"
    maximum_backoff = "${var.retry_maximum_backoff_seconds}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.value.topic].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  push_config {
    push_endpoint = google_cloudfunctions2_function.fn[each.key].service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.push[each.key].email
      audience              = google_cloudfunctions2_function.fn[each.key].service_config[0].uri
    }
  }

  depends_on = [
    google_pubsub_topic_iam_member.dead_letter_publisher,
    google_cloud_run_v2_service_iam_member.push_invoker,
  ]
}

# ---- What dead-lettering requires of the Pub/Sub service agent ----------------------------

locals {
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# Publish the failed message to the dead-letter topic...
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.topics

  topic  = google_pubsub_topic.dead_letter[each.key].name
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

# ...and acknowledge it on the source subscription.
resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.functions

  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# Mint the OIDC tokens of the push invoker accounts (needed for projects created before
# April 2021; harmless after). Granted on each invoker account only, not the project.
resource "google_service_account_iam_member" "pubsub_token_creator" {
  for_each = local.functions

  service_account_id = google_service_account.push[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}
