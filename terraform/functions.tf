# The four gen2 Cloud Functions. Each one: its own service account (iam.tf), its own push
# subscription (pubsub.tf), a bounded max_instance_count, internal ingress only, and no
# invoker but its push subscription's account: nothing public can call it.

locals {
  # ServiceTitan credentials: Secret Manager secret -> environment variable (secrets.tf).
  st_secret_env = {
    ST_CLIENT_ID     = "st-client-id"
    ST_CLIENT_SECRET = "st-client-secret"
    ST_APP_KEY       = "st-app-key"
    ST_TENANT_ID     = "st-tenant-id"
  }

  # Only fetch_window and rebuild_dims talk to ServiceTitan (reads_st_api), so only they may
  # read the secrets. The other
  # functions still build the common Settings object, which today requires these names;
  # they get a visible non-value instead of access. (Drop this once stkpi.config lets
  # functions that never call the API start without credentials.)
  st_credentials_not_granted = { for k in keys(local.st_secret_env) : k => "not-granted-to-this-function" }

  function_env = {
    for fn, spec in local.functions : fn => merge(
      local.common_env,
      spec.reads_st_api ? {} : local.st_credentials_not_granted,
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

    dynamic "secret_environment_variables" {
      for_each = each.value.reads_st_api ? local.st_secret_env : {}
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = google_secret_manager_secret.st[secret_environment_variables.key].secret_id
        version    = "latest"
      }
    }
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
