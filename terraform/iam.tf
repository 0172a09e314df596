# Identities, least privilege: one runtime service account per function, one push-invoker
# account per push subscription, one build account. Every grant is additive (_member) and
# scoped to the narrowest resource that works: a topic, a secret, a bucket, a dataset.
# Only bigquery.jobUser is project-wide, because BigQuery jobs are created in the project.
# No binding anywhere names allUsers or allAuthenticatedUsers.
#
# Ops state (st_ops.window_events, run_events, sync_state) is appended by streaming
# inserts from every step (stkpi/state.py), so every function may edit the ops dataset.

resource "google_service_account" "fn" {
  for_each = local.functions

  account_id   = each.value.name
  display_name = "st-kpi ${each.key} runtime"
  description  = "Runtime identity of the ${each.key} function; roles in terraform/iam.tf."

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "push" {
  for_each = local.functions

  account_id   = "${each.value.name}-push"
  display_name = "st-kpi ${each.key} push invoker"
  description  = "Identity of the Pub/Sub push subscription that invokes ${each.key}; holds run.invoker on that function only."

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "build" {
  account_id   = "${local.prefix}st-kpi-build"
  display_name = "st-kpi function builds"
  description  = "Cloud Build identity of the function builds (instead of the default compute account)."

  depends_on = [google_project_service.apis]
}

locals {
  # function -> topics it publishes to
  publishes = {
    plan_windows = ["windows"]
    # st-loads when a window is fetched; st-windows when it nears its time budget and
    # republishes the rest of its window with page_from (invariant 6).
    fetch_window = ["loads", "windows"]
    # st-rebuild when the run's last window is loaded; st-windows to hand the window's lane
    # to the next window of the plan (main.tf, window_lanes).
    load_batch   = ["rebuild", "windows"]
    rebuild_dims = []
  }

  # function -> dataset layer -> role
  dataset_roles = {
    plan_windows = { ops = "roles/bigquery.dataEditor" } # reads sync_state, appends planned events
    fetch_window = { ops = "roles/bigquery.dataEditor" } # appends window events
    load_batch = {
      raw   = "roles/bigquery.dataEditor" # MERGE staging -> raw
      stage = "roles/bigquery.dataEditor" # per-window staging tables
      ops   = "roles/bigquery.dataEditor"
    }
    rebuild_dims = {
      raw  = "roles/bigquery.dataViewer" # reads raw, never writes it
      dim  = "roles/bigquery.dataEditor"
      mart = "roles/bigquery.dataEditor"
      ops  = "roles/bigquery.dataEditor" # run events, sync_state, validation_results
    }
  }

  # functions that run BigQuery jobs (queries, load jobs, MERGE)
  runs_bq_jobs = ["plan_windows", "load_batch", "rebuild_dims"]

  # function -> landing bucket role. objectUser = create, read, overwrite, delete:
  # fetch rewrites a page with the same deterministic name on redelivery; load reads
  # pages and creates the loaded markers and the run claim (if_generation_match=0);
  # plan_windows stores the run's plan (first writer wins) and reads it back on a
  # redelivery; rebuild_dims holds the rebuild lease (compare-and-swap updates, delete),
  # reads plans and markers, writes rebuild.done and the KPI report.
  landing_roles = {
    plan_windows = "roles/storage.objectUser"
    fetch_window = "roles/storage.objectUser"
    load_batch   = "roles/storage.objectUser"
    rebuild_dims = "roles/storage.objectUser"
  }

  # A message that can never succeed is published by the function itself to its topic's
  # dead-letter topic, with the reason (stkpi.runtime), so each function may publish there.
  dead_letter_publish_grants = { for fn, spec in local.functions : fn => spec.topic }

  # Operators run the CLI (`stkpi backfill`, `daily`, `status`, `validate`, `explain`,
  # `report`, `dead-letters --replay`): they publish plans (and replayed dead letters)
  # to the pipeline topics, read and consume the dead-letter holds, query every layer and
  # read the landing bucket (plans, reports). Members come from var.operator_members.
  operator_topic_grants = {
    for pair in setproduct(var.operator_members, keys(local.topics)) : "${pair[0]}/${pair[1]}" => { member = pair[0], topic = pair[1] }
  }
  operator_dataset_grants = {
    for pair in setproduct(var.operator_members, keys(local.datasets)) : "${pair[0]}/${pair[1]}" => { member = pair[0], layer = pair[1] }
  }

  st_secret_grants = {
    for pair in setproduct([for fn, spec in local.functions : fn if spec.reads_st_api], keys(local.st_secret_env)) :
    "${pair[0]}/${pair[1]}" => { fn = pair[0], env = pair[1] }
  }

  # each added tenant's secrets, to the same functions, one binding per secret (secrets.tf)
  tenant_secret_grants = merge([
    for fn, spec in local.functions : {
      for key, secret in local.tenant_secrets : "${fn}/${key}" => { fn = fn, secret = key }
    } if spec.reads_st_api
  ]...)

  publish_grants = merge([
    for fn, topics in local.publishes : { for t in topics : "${fn}/${t}" => { fn = fn, topic = t } }
  ]...)

  dataset_grants = merge([
    for fn, layers in local.dataset_roles : {
      for layer, role in layers : "${fn}/${layer}" => { fn = fn, layer = layer, role = role }
    }
  ]...)

  # the same roles on each added tenant's datasets (bigquery.tf, tenant_layer): a function
  # runs every tenant's messages, each in the tenant's own datasets (stkpi.tenant_contexts)
  tenant_dataset_grants = merge([
    for fn, layers in local.dataset_roles : {
      for key, ds in local.tenant_datasets : "${fn}/${key}" => {
        fn = fn, dataset = key, role = layers[ds.layer]
      } if contains(keys(layers), ds.layer)
    }
  ]...)
  operator_tenant_dataset_grants = {
    for pair in setproduct(var.operator_members, keys(local.tenant_datasets)) : "${pair[0]}/${pair[1]}" => { member = pair[0], dataset = pair[1] }
  }
}

resource "google_pubsub_topic_iam_member" "publish" {
  for_each = local.publish_grants

  topic  = google_pubsub_topic.main[each.value.topic].name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.fn[each.value.fn].email}"
}

resource "google_pubsub_topic_iam_member" "dead_letter_publish" {
  for_each = local.dead_letter_publish_grants

  topic  = google_pubsub_topic.dead_letter[each.value].name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.fn[each.key].email}"
}

resource "google_bigquery_dataset_iam_member" "fn" {
  for_each = local.dataset_grants

  dataset_id = google_bigquery_dataset.layer[each.value.layer].dataset_id
  role       = each.value.role
  member     = "serviceAccount:${google_service_account.fn[each.value.fn].email}"
}

resource "google_bigquery_dataset_iam_member" "fn_tenant" {
  for_each = local.tenant_dataset_grants

  dataset_id = google_bigquery_dataset.tenant_layer[each.value.dataset].dataset_id
  role       = each.value.role
  member     = "serviceAccount:${google_service_account.fn[each.value.fn].email}"
}

resource "google_project_iam_member" "bq_job_user" {
  for_each = toset(local.runs_bq_jobs)

  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.fn[each.value].email}"

  depends_on = [google_project_service.apis] # project IAM: Resource Manager's API
}

resource "google_storage_bucket_iam_member" "landing" {
  for_each = local.landing_roles

  bucket = google_storage_bucket.landing.name
  role   = each.value
  member = "serviceAccount:${google_service_account.fn[each.key].email}"
}

# Only the functions that call ServiceTitan (reads_st_api: fetch_window pages the API,
# rebuild_dims reconciles with its Reporting API) read its credentials, secret by secret.
resource "google_secret_manager_secret_iam_member" "reads_st" {
  for_each = local.st_secret_grants

  secret_id = google_secret_manager_secret.st[each.value.env].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.fn[each.value.fn].email}"
}

# The same functions read each added tenant's secrets, and those secrets only: a binding per
# secret, never secretAccessor on the project (which would open every secret in it).
resource "google_secret_manager_secret_iam_member" "reads_tenant" {
  for_each = local.tenant_secret_grants

  secret_id = google_secret_manager_secret.tenant[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.fn[each.value.fn].email}"
}

# ---- Build account -----------------------------------------------------------------------

# Google's documented role for a custom Cloud Functions build account (build steps, build
# logs, the image in the gcf-artifacts repository).
resource "google_project_iam_member" "build" {
  #checkov:skip=CKV_GCP_49:Held by the dedicated build account only (no human, no runtime function); Google documents this role for custom function build accounts.
  project = var.project_id
  role    = "roles/cloudbuild.builds.builder"
  member  = "serviceAccount:${google_service_account.build.email}"

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_iam_member" "build_reads_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}

# ---- Operators ---------------------------------------------------------------------------

resource "google_pubsub_topic_iam_member" "operator_publish" {
  for_each = local.operator_topic_grants

  topic  = google_pubsub_topic.main[each.value.topic].name
  role   = "roles/pubsub.publisher"
  member = each.value.member
}

resource "google_pubsub_subscription_iam_member" "operator_dead_letters" {
  for_each = local.operator_topic_grants

  subscription = google_pubsub_subscription.dead_letter[each.value.topic].name
  role         = "roles/pubsub.subscriber"
  member       = each.value.member
}

resource "google_bigquery_dataset_iam_member" "operator" {
  for_each = local.operator_dataset_grants

  dataset_id = google_bigquery_dataset.layer[each.value.layer].dataset_id
  # Read everything; `stkpi validate` also appends its results to st_ops.validation_results.
  role   = each.value.layer == "ops" ? "roles/bigquery.dataEditor" : "roles/bigquery.dataViewer"
  member = each.value.member
}

# On each added tenant's datasets, operators also make the tables: `stkpi tenant add`
# creates them with the deployment's DDL once the tenant's doctor passed (terraform makes
# the datasets, for the functions' grants, but not the tables: docs/TENANTS.md). So
# dataEditor on every layer of the tenant's, where the deployment's own raw, dim and mart
# are only read (terraform made their tables).
resource "google_bigquery_dataset_iam_member" "operator_tenant" {
  for_each = local.operator_tenant_dataset_grants

  dataset_id = google_bigquery_dataset.tenant_layer[each.value.dataset].dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = each.value.member
}

resource "google_project_iam_member" "operator_job_user" {
  for_each = toset(var.operator_members)

  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = each.value

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_iam_member" "operator_landing" {
  for_each = toset(var.operator_members)

  bucket = google_storage_bucket.landing.name
  role   = "roles/storage.objectViewer"
  member = each.value
}
