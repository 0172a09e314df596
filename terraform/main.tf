# st-kpi on Google Cloud: buckets, function sources and the shared locals.
# The other files: pubsub.tf (topics, push subscriptions, dead letters), functions.tf,
# iam.tf (one service account per function), secrets.tf, scheduler.tf, bigquery.tf,
# monitoring.tf.

# Reading the project (its number names the Pub/Sub service agent) is a Resource Manager
# call: on a fresh project it waits for that API like every other resource waits for its own.
data "google_project" "this" {
  project_id = var.project_id

  depends_on = [google_project_service.apis]
}

locals {
  repo_root = abspath("${path.module}/..")

  # Every name that must be unique in a project (or, for buckets, in the world) starts with
  # this deployment's prefix, so a second deployment in the same project collides with
  # nothing (tests/terraform/test_deploy_graph.py holds every such name to it).
  prefix = var.name_prefix

  # Pub/Sub topics, named as shared/stkpi/config.py expects (TOPIC_PLAN, ...).
  topics = {
    plan    = "${local.prefix}st-plan"
    windows = "${local.prefix}st-windows"
    loads   = "${local.prefix}st-loads"
    rebuild = "${local.prefix}st-rebuild"
  }

  # Every topic T has a dead-letter topic T<suffix> and a pull subscription
  # T<suffix><hold_suffix> that keeps its dead letters (pubsub.tf). The functions get the
  # suffix as DEAD_LETTER_TOPIC_SUFFIX, the CLI reads these names from this directory.
  dead_letter_suffix      = "-dead-letter"
  dead_letter_hold_suffix = "-hold"

  # Dataset ids take no '-': the name prefix with '_' instead, unless given explicitly.
  bq_dataset_prefix = var.bq_dataset_prefix != "" ? var.bq_dataset_prefix : "${replace(local.prefix, "-", "_")}st"
  datasets = {
    for layer in ["raw", "stage", "dim", "mart", "ops"] : layer => "${local.bq_dataset_prefix}_${layer}"
  }

  landing_bucket = var.landing_bucket_name != "" ? var.landing_bucket_name : "${var.project_id}-${local.prefix}st-landing"

  # ServiceTitan's budget is per (app key, tenant): every fetch instance has a token bucket
  # of fetch_rate_per_instance requests/s per tenant (each tenant's context has its own
  # client, stkpi.tenant_contexts), and a tenant's run holds at most window_lanes windows,
  # one instance each. One tenant's share of instances keeps
  # tenant_fetch_instances * fetch_rate_per_instance <= tenant limit * safety factor; the
  # function has that share for every tenant the deployment serves (its default tenant and
  # each var.tenants entry), so one tenant's backfill never waits for another's instances.
  tenant_fetch_instances = max(1, floor(var.tenant_rate_limit_per_second * var.rate_limit_safety_factor / var.fetch_rate_per_instance))
  tenant_count           = 1 + length(var.tenants)
  fetch_max_instances    = local.tenant_fetch_instances * local.tenant_count

  # One entry per function: folder name = entry point, the topic it consumes, its sizing.
  functions = {
    plan_windows = {
      name          = "${local.prefix}st-plan-windows"
      topic         = "plan"
      memory        = "512Mi"
      cpu           = "1"
      timeout       = 300
      max_instances = 2 # plans are rare (daily, weekly, a backfill now and then)
      concurrency   = 1
      reads_st_api  = false
    }
    fetch_window = {
      name          = "${local.prefix}st-fetch-window"
      topic         = "windows"
      memory        = "1Gi" # streams page by page; headroom for 5000-record pages
      cpu           = "1"
      timeout       = var.fetch_timeout_seconds
      max_instances = local.fetch_max_instances
      # Each instance has one token bucket (ST_RATE_LIMIT_PER_SECOND) that its deliveries
      # share, so the global budget is max_instances x rate whatever the concurrency. A run
      # has one lane per instance (window_lanes); the second slot is headroom for Pub/Sub's
      # duplicate and overlapping deliveries, which would otherwise be refused with 429.
      concurrency  = 2
      reads_st_api = true
    }
    load_batch = {
      name          = "${local.prefix}st-load-batch"
      topic         = "loads"
      memory        = "512Mi" # the load job runs in BigQuery; the function only waits
      cpu           = "1"
      timeout       = 540
      max_instances = var.load_max_instances
      # A load mostly waits on BigQuery (load job, MERGE): 4 at once per instance leaves
      # room for Pub/Sub's duplicate deliveries on top of the window lanes, which a
      # capacity of exactly the lanes would refuse with 429 (counted as failed attempts).
      concurrency  = 4
      reads_st_api = false
    }
    rebuild_dims = {
      name          = "${local.prefix}st-rebuild-dims"
      topic         = "rebuild"
      memory        = "2Gi" # dims, marts and validations; results come back as rows
      cpu           = "1"
      timeout       = 540
      max_instances = 1 # one rebuild at a time: runs never race each other's marts
      # A rebuild message that arrives while another run rebuilds waits inside the one
      # instance (rebuilds are serialised in-process) instead of being refused with 429,
      # which Pub/Sub would count as a failed delivery attempt (docs/DEPLOY.md, Capacity).
      concurrency = 8
      # Reconciles the KPIs with ServiceTitan's Reporting API after each rebuild (a handful
      # of report calls a day, each report at most once a minute: stkpi.reconcile).
      reads_st_api = true
    }
  }

  # Window lanes: a run keeps at most this many windows in flight (fetching or loading),
  # one per fetch instance of its tenant's share (each has its own share of the tenant's
  # API budget), and every tenant's runs together fit load_batch's capacity.
  # plan_windows publishes the first `window_lanes` windows of its plan; every loaded
  # window hands its lane to the window `window_lanes` places after it. So neither
  # fetch_window nor load_batch ever holds more deliveries than it has capacity for, and
  # no window of a backfill, however long, waits in Pub/Sub's retry loop for a free
  # instance (docs/DEPLOY.md, Capacity).
  load_capacity = local.functions.load_batch.max_instances * local.functions.load_batch.concurrency
  window_lanes  = max(1, min(local.tenant_fetch_instances, floor(local.load_capacity / local.tenant_count)))

  common_env = {
    GCP_PROJECT         = var.project_id
    LANDING_BUCKET      = google_storage_bucket.landing.name
    BQ_DATASET_PREFIX   = local.bq_dataset_prefix
    BQ_LOCATION         = var.bq_location
    REPORT_TIMEZONE     = var.report_timezone
    ST_API_BASE_URL     = var.st_api_base_url
    ST_AUTH_URL         = var.st_auth_url
    ST_PAGE_SIZE        = tostring(var.st_page_size)
    WINDOW_DAYS         = tostring(var.window_days)
    WINDOW_TARGET_PAGES = tostring(var.window_target_pages)
    DELETE_GUARD_SHARE  = tostring(var.delete_guard_share)
    # Pages one fetch keeps outstanding: its share of the rate budget when a page takes
    # about a second to answer (ServiceTitan at 5,000 records per page).
    FETCH_PAGES_IN_FLIGHT           = tostring(max(1, ceil(var.fetch_rate_per_instance)))
    TOPIC_PLAN                      = local.topics.plan
    TOPIC_WINDOWS                   = local.topics.windows
    TOPIC_LOADS                     = local.topics.loads
    TOPIC_REBUILD                   = local.topics.rebuild
    DEAD_LETTER_TOPIC_SUFFIX        = local.dead_letter_suffix
    DEAD_LETTER_SUBSCRIPTION_SUFFIX = local.dead_letter_hold_suffix
    WINDOW_LANES                    = tostring(local.window_lanes)
    LOG_EXECUTION_ID                = "true"
    # glibc gives every thread its own malloc arena; a threaded function that handles
    # pages of 5,000 records would hold far more memory than it uses without this cap.
    MALLOC_ARENA_MAX = "2"
    PYTHONUNBUFFERED = "1"
  }

  # ---- Function sources ------------------------------------------------------------------
  # Each archive = functions/<name>/ at the root (main.py), the library package stkpi/
  # (from shared/stkpi) next to it, sql/ (stkpi.sqlfiles finds it as a sibling of the
  # package), and requirements.txt = the project's pinned direct dependencies constrained
  # by the full transitive pin set.
  library_files = {
    for f in fileset("${local.repo_root}/shared/stkpi", "**") :
    "stkpi/${f}" => "${local.repo_root}/shared/stkpi/${f}"
    if !strcontains(f, "__pycache__") && !endswith(f, ".pyc")
  }
  # sql/seeds/*.csv are the simulated tenant's maps, the demo's data: a deployment reads
  # its tenant's own maps from the warehouse (stkpi.tenant_maps), never from the zip.
  sql_files = {
    for f in fileset("${local.repo_root}/sql", "**") :
    "sql/${f}" => "${local.repo_root}/sql/${f}"
    if !endswith(f, ".csv")
  }
  function_files = {
    for fn in keys(local.functions) : fn => {
      for f in fileset("${local.repo_root}/functions/${fn}", "**") :
      f => "${local.repo_root}/functions/${fn}/${f}"
      if !strcontains(f, "__pycache__") && !endswith(f, ".pyc") && f != "requirements.txt"
    }
  }
  requirements_txt = "-c constraints.txt\n${file("${local.repo_root}/requirements.txt")}"
}

data "archive_file" "function" {
  for_each = local.functions

  type        = "zip"
  output_path = "${path.module}/.build/${each.key}.zip"

  dynamic "source" {
    for_each = merge(local.library_files, local.sql_files, local.function_files[each.key])
    content {
      filename = source.key
      content  = file(source.value)
    }
  }

  source {
    filename = "requirements.txt"
    content  = local.requirements_txt
  }

  source {
    filename = "constraints.txt"
    content  = file("${local.repo_root}/constraints.txt")
  }
}

# ---- Buckets -----------------------------------------------------------------------------

resource "google_storage_bucket" "landing" {
  #checkov:skip=CKV_GCP_62:Access logs of a machine-only bucket add cost, not insight; Data Access audit logs cover it if the org needs them.
  #checkov:skip=CKV_GCP_78:Versioning off on purpose: pages have deterministic names and a rewrite must replace, not accumulate.
  name                        = local.landing_bucket
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  versioning {
    enabled = false
  }

  dynamic "lifecycle_rule" {
    for_each = var.landing_nearline_after_days > 0 ? [var.landing_nearline_after_days] : []
    content {
      condition {
        age            = lifecycle_rule.value
        matches_prefix = ["landing/"]
      }
      action {
        type          = "SetStorageClass"
        storage_class = "NEARLINE"
      }
    }
  }

  # Pages, manifests, loaded markers and run claims alike: raw in BigQuery is the system
  # of record, and no Pub/Sub message outlives its 7-day retention to need a claim later.
  lifecycle_rule {
    condition {
      age = var.landing_delete_after_days
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

# Function source archives. Object names carry the archive's SHA-256: a changed source
# is a new object name, which is what makes Cloud Functions rebuild and redeploy.
resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:Access logs of a deploy-artifact bucket add cost, not insight.
  #checkov:skip=CKV_GCP_78:Versioning off: each source is a new, content-addressed object name.
  name                        = "${var.project_id}-${local.prefix}st-function-sources"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  versioning {
    enabled = false
  }

  lifecycle_rule {
    condition {
      age = 90 # builds copy the source; old archives only serve a manual rollback
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_object" "function_source" {
  for_each = local.functions

  name   = "functions/${each.key}-${data.archive_file.function[each.key].output_sha256}.zip"
  bucket = google_storage_bucket.sources.name
  source = data.archive_file.function[each.key].output_path
}

# APIs the deploy needs. Left enabled on destroy: other workloads may use them. Every
# resource depends on this (directly, or through what it references), so a fresh project
# enables its APIs first; tests/terraform/test_deploy_graph.py holds each resource type to
# the APIs it calls (cloudresourcemanager: data.google_project and every project IAM grant).
resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
