# The four gen2 Cloud Functions. Each one: its own service account (iam.tf), its own push
# subscription (pubsub.tf), a bounded max_instance_count, internal ingress only, and no
# invoker but its push subscription's account: nothing public can call it.

locals {
  # ServiceTitan credentials: environment variable -> Secret Manager secret (secrets.tf).
  st_secret_env = {
    ST_CLIENT_ID     = "st-client-id"
    ST_CLIENT_SECRET = "st-client-secret"
    ST_APP_KEY       = "st-app-key"
    ST_TENANT_ID     = "st-tenant-id"
  }

  # Only fetch_window and rebuild_dims talk to ServiceTitan (reads_st_api), so only they may
  # read the secrets, and they read them when a call needs them (stkpi.secrets), not when an
  # instance starts: ST_SECRETS names each credential's secret, never its value. Cloud Run
  # refuses a revision that mounts a secret version that does not exist yet, so mounting
  # them (secret_environment_variables, version "latest") would fail the first apply, which
  # runs before anyone has added the values (docs/DEPLOY.md, one pass). Until a version
  # exists, a delivery that needs it is dead-lettered, replayable, with the gcloud command
  # that adds it. The other functions get no credential and no reference at all.
  st_secrets = jsonencode({ for env, s in google_secret_manager_secret.st : env => s.id })

  function_env = {
    for fn, spec in local.functions : fn => merge(
      local.common_env,
      # The function's own deadline: a step that cannot finish its work before it (a
      # rebuild waiting for its turn) answers at once, so Pub/Sub retries it later, instead
      # of being cut off by Cloud Run while its thread runs on (stkpi.deadline).
      { FUNCTION_TIMEOUT_SECONDS = tostring(spec.timeout) },
      spec.reads_st_api ? { ST_SECRETS = local.st_secrets } : {},
      fn == "fetch_window" ? {
        ST_RATE_LIMIT_PER_SECOND  = tostring(var.fetch_rate_per_instance)
        FETCH_TIME_BUDGET_SECONDS = tostring(var.fetch_time_budget_seconds)
      } : {},
    )
  }
}

resource "google_cloudfunctions2_function" "fn" {
  for_each = local.functions

  name        = each.value.name
  location    = var.region
  description = "st-kpi ${each.key}: consumes ${local.topics[each.value.topic]}"

  build_config {
    runtime         = var.python_runtime
    entry_point     = each.key
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source[each.key].name
      }
    }
  }

  service_config {
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout
    min_instance_count               = 0
    max_instance_count               = each.value.max_instances
    max_instance_request_concurrency = each.value.concurrency
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.fn[each.key].email
    environment_variables            = local.function_env[each.key]
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.reads_st,
    google_project_iam_member.build,
  ]
}

# The push subscription's account is the only invoker of each function (gen2 functions
# are Cloud Run services; invoking them needs run.invoker on the service).
resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  for_each = local.functions

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push[each.key].email}"
}
