# Log-based metrics and alert policies.
#
# Log contract (owned by shared/stkpi/log_contract.py; stkpi.logs prints one JSON line per
# event and Cloud Logging parses it: "severity" becomes the entry's severity, the rest its
# jsonPayload). For every validation check, the step that runs the validations (rebuild_dims
# after each rebuild, and the daily scheduled validation) logs exactly one line
#   {"event": "validation", "check": "<family>", "passed": true|false,
#    "status": "GREEN"|"YELLOW"|"RED", "run_id": ..., "entity": <entity or null>,
#    "check_name": "<name>", "detail": "<short text>", ...}
# check is the family: freshness (newest data or last sync older than 25 h), volume_drop
# (the latest day's count under 50% of the median of the same weekday over the 4 weeks
# before), coverage, join, kpi, pipeline. passed is false exactly when status is RED
# (YELLOW passes, as for `stkpi validate`); a failed check logs at WARNING, not ERROR, so it
# does not also count as a function error. The thresholds live in
# shared/stkpi/validation/config.py; these metrics count outcomes.
#
# Two filter languages: google_logging_metric filters are Cloud Logging queries
# (field=("a" OR "b") is valid there); alert policy filters are Cloud Monitoring filters,
# where a value list is written field = one_of("a", "b"). tests/terraform/test_alerts.py
# checks both against the lines the code emits.
#
# No absence alert on the daily validation itself: Monitoring's absence window is at most
# 23.5 h, shorter than a daily job's period, so it would fire every day. A validation that
# crashes shows in the function error-rate alert (and, after retries, in dead letters).

locals {
  function_service_names = [for fn in google_cloudfunctions2_function.fn : fn.name]
  # Cloud Logging query syntax: service_name=("a" OR "b").
  function_names_filter = join(" OR ", [for s in local.function_service_names : "\"${s}\""])
  # Cloud Monitoring filter syntax: service_name = one_of("a", "b").
  function_names_one_of = "one_of(${join(", ", [for s in local.function_service_names : "\"${s}\""])})"
  # gen2 functions log as Cloud Run revisions named after the function.
  function_log_filter = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=(${local.function_names_filter})"

  notification_channels = [for c in google_monitoring_notification_channel.email : c.id]

  # Cloud Monitoring answers 404 for a log-based metric created moments ago ("it could take
  # up to 10 minutes to become available"), so an alert policy created in the same apply
  # as its metric fails the first deploy (a long-standing google provider issue). The
  # policies wait for this long after their metrics are created; later applies do not wait
  # (time_sleep only sleeps when it is created, i.e. when a metric is new).
  log_metric_propagation = "11m"
}

resource "google_monitoring_notification_channel" "email" {
  for_each = var.alert_email == "" ? toset([]) : toset([var.alert_email])

  display_name = "${local.prefix}st-kpi alerts"
  type         = "email"
  labels = {
    email_address = each.value
  }

  depends_on = [google_project_service.apis]
}

resource "google_logging_metric" "validation_failed" {
  name        = "${local.prefix}stkpi/validation_failed"
  description = "Failed (RED) validation checks of st-kpi, by check family."
  filter      = "${local.function_log_filter} AND jsonPayload.event=\"validation\" AND jsonPayload.passed=false"

  label_extractors = {
    check = "EXTRACT(jsonPayload.check)"
  }

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "st-kpi failed validations"

    labels {
      key         = "check"
      value_type  = "STRING"
      description = "validation check family (freshness, volume_drop, coverage, join, kpi, pipeline)"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_logging_metric" "function_errors" {
  name        = "${local.prefix}stkpi/function_errors"
  description = "ERROR-or-worse log lines of the st-kpi functions, by function."
  filter      = "${local.function_log_filter} AND severity>=ERROR"

  label_extractors = {
    function = "EXTRACT(resource.labels.service_name)"
  }

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "st-kpi function errors"

    labels {
      key        = "function"
      value_type = "STRING"
    }
  }

  depends_on = [google_project_service.apis]
}

# ---- Alert policies ------------------------------------------------------------------------

# The wait between the log-based metrics and the alert policies that name them (see
# local.log_metric_propagation). A new or renamed metric re-creates it, and so waits again.
resource "time_sleep" "log_metrics_visible" {
  create_duration = local.log_metric_propagation

  triggers = {
    validation_failed = google_logging_metric.validation_failed.id
    function_errors   = google_logging_metric.function_errors.id
  }
}

resource "google_monitoring_alert_policy" "freshness" {
  display_name          = "${local.prefix}st-kpi: data older than 25 h"
  combiner              = "OR"
  notification_channels = local.notification_channels

  documentation {
    content   = "A validation (daily, or after a rebuild) found an entity's newest raw data or last sync older than 25 hours (validation check freshness; jsonPayload.entity names it). Check st_ops.runs and the dead-letter subscriptions; re-run with `gcloud scheduler jobs run st-kpi-daily-incremental --location REGION`."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "freshness check failed"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.validation_failed.name}\" AND resource.type=\"cloud_run_revision\" AND metric.label.check=\"freshness\""
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

  depends_on = [google_project_service.apis, time_sleep.log_metrics_visible]
}

resource "google_monitoring_alert_policy" "volume_drop" {
  display_name          = "${local.prefix}st-kpi: daily volume dropped over 50%"
  combiner              = "OR"
  notification_channels = local.notification_channels

  documentation {
    content   = "An entity's records created on the latest complete day fell under half the median of the same weekday over the 4 weeks before (validation check volume_drop; jsonPayload.entity names it). See st_ops.validation_results for the counts."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "volume_drop check failed"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.validation_failed.name}\" AND resource.type=\"cloud_run_revision\" AND metric.label.check=\"volume_drop\""
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

  depends_on = [google_project_service.apis, time_sleep.log_metrics_visible]
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "${local.prefix}st-kpi: dead letters present"
  combiner              = "OR"
  notification_channels = local.notification_channels

  documentation {
    content   = "Messages reached a dead-letter subscription after ${var.max_delivery_attempts} failed deliveries. Inspect with `gcloud pubsub subscriptions pull SUB --limit=10` (docs/DEPLOY.md, Dead letters)."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "undelivered dead letters > 0"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id = one_of(${join(", ", [for s in google_pubsub_subscription.dead_letter : "\"${s.name}\""])})"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "function_error_rate" {
  display_name          = "${local.prefix}st-kpi: function error rate"
  combiner              = "OR"
  notification_channels = local.notification_channels

  documentation {
    content   = "More than ${var.function_error_rate_threshold * 100}% of a function's deliveries failed (5xx) over 10 minutes, or it logged over 10 errors; Pub/Sub retries them and dead-letters those that keep failing. Logs: metric stkpi/function_errors and the function's Cloud Run logs."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "5xx share of deliveries, per function"
    condition_threshold {
      filter             = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND metric.label.response_code_class=\"5xx\" AND resource.label.service_name = ${local.function_names_one_of}"
      denominator_filter = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND resource.label.service_name = ${local.function_names_one_of}"
      comparison         = "COMPARISON_GT"
      threshold_value    = var.function_error_rate_threshold
      duration           = "600s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
      denominator_aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
    }
  }

  conditions {
    display_name = "error log lines, per function"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.function_errors.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 10
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.function"]
      }
    }
  }

  depends_on = [google_project_service.apis, time_sleep.log_metrics_visible]
}
