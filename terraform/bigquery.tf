# BigQuery: the five layer datasets, the raw tables (one per entity) and the ops tables
# and views. Table shapes come from their DDL (raw: rendered from the entity registry by
# stkpi.raw_ddl; ops: sql/ops), the single source of truth, via
# schemas/<layer>/<table>.json (scripts/gen_terraform_schemas.py; a test fails when they
# are stale). Dims and marts are built by rebuild_dims from sql/, not here.

locals {
  raw_specs = {
    for f in fileset("${path.module}/schemas/raw", "*.json") :
    trimsuffix(f, ".json") => jsondecode(file("${path.module}/schemas/raw/${f}"))
  }
  ops_specs = {
    for f in fileset("${path.module}/schemas/ops", "*.json") :
    trimsuffix(f, ".json") => jsondecode(file("${path.module}/schemas/ops/${f}"))
  }

  # Transactional entities: partitioned by day on their immutable date, clustered by key.
  raw_partitioned = { for name, spec in local.raw_specs : name => spec if spec.partition_field != null }
  # Reference entities (a few hundred rows, refreshed in full): clustering only. A daily
  # partition per handful of rows would only add metadata; the exemption is explicit
  # (label partitioning = exempt-reference) and a test holds it to reference entities.
  raw_reference = { for name, spec in local.raw_specs : name => spec if spec.partition_field == null }

  ops_tables = { for name, spec in local.ops_specs : name => spec if spec.kind == "table" }
  ops_views  = { for name, spec in local.ops_specs : name => spec if spec.kind == "view" }

  # The ${...} placeholders of the SQL files, as stkpi.sqlfiles fills them.
  sql_params = {
    project   = var.project_id
    raw       = local.datasets.raw
    stage     = local.datasets.stage
    dim       = local.datasets.dim
    mart      = local.datasets.mart
    ops       = local.datasets.ops
    report_tz = var.report_timezone
  }
}

resource "google_bigquery_dataset" "layer" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption; CMEK is an org-level choice, not this pipeline's.
  for_each = local.datasets

  dataset_id  = each.value
  location    = var.bq_location
  description = "st-kpi ${each.key} layer"

  # Staging tables are per window and disposable: they expire on their own.
  default_table_expiration_ms = each.key == "stage" ? var.stage_table_expiration_hours * 3600 * 1000 : null
  delete_contents_on_destroy  = !var.deletion_protection

  depends_on = [google_project_service.apis]
}

# Each added tenant's datasets (docs/TENANTS.md): the five layers again, named with the
# tenant id appended to the prefix (<prefix>_t<id>_<layer>, stkpi.tenants.dataset_prefix),
# one var.tenants entry each. They are made here so that iam.tf grants the functions their
# roles on them as on the deployment's own, dataset by dataset; their tables are made by
# `stkpi tenant add` with the deployment's own DDL (stkpi.warehouse.ensure_tables), once
# the tenant's doctor has passed.
locals {
  tenant_datasets = {
    for pair in setproduct(keys(var.tenants), keys(local.datasets)) : "${pair[0]}/${pair[1]}" => {
      tenant     = pair[0]
      layer      = pair[1]
      dataset_id = "${local.bq_dataset_prefix}_t${pair[0]}_${pair[1]}"
    }
  }
}

resource "google_bigquery_dataset" "tenant_layer" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption, as the deployment's own datasets.
  for_each = local.tenant_datasets

  dataset_id  = each.value.dataset_id
  location    = var.bq_location
  description = "st-kpi ${each.value.layer} layer of tenant ${each.value.tenant}"

  default_table_expiration_ms = each.value.layer == "stage" ? var.stage_table_expiration_hours * 3600 * 1000 : null
  delete_contents_on_destroy  = !var.deletion_protection

  labels = {
    tenant = each.value.tenant
  }

  depends_on = [google_project_service.apis]
}

resource "google_bigquery_table" "raw_partitioned" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption (see the datasets).
  for_each = local.raw_partitioned

  dataset_id          = google_bigquery_dataset.layer["raw"].dataset_id
  table_id            = each.key
  description         = each.value.description
  deletion_protection = var.deletion_protection
  schema              = jsonencode(each.value.schema)
  clustering          = each.value.clustering

  time_partitioning {
    type  = "DAY"
    field = each.value.partition_field
  }

  labels = {
    layer        = "raw"
    partitioning = "day"
  }
}

resource "google_bigquery_table" "raw_reference" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption (see the datasets).
  for_each = local.raw_reference

  dataset_id          = google_bigquery_dataset.layer["raw"].dataset_id
  table_id            = each.key
  description         = each.value.description
  deletion_protection = var.deletion_protection
  schema              = jsonencode(each.value.schema)
  clustering          = each.value.clustering

  labels = {
    layer        = "raw"
    partitioning = "exempt-reference"
  }
}

resource "google_bigquery_table" "ops" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption (see the datasets).
  for_each = local.ops_tables

  dataset_id          = google_bigquery_dataset.layer["ops"].dataset_id
  table_id            = each.key
  description         = each.value.description
  deletion_protection = var.deletion_protection
  schema              = jsonencode(each.value.schema)
  clustering          = each.value.clustering

  time_partitioning {
    type  = "DAY"
    field = each.value.partition_field
  }

  labels = {
    layer        = "ops"
    partitioning = "day"
  }
}

# Views (runs, windows) fold the append-only ops events into current state.
resource "google_bigquery_table" "ops_view" {
  #checkov:skip=CKV_GCP_80:A view stores no data to encrypt.
  for_each = local.ops_views

  dataset_id          = google_bigquery_dataset.layer["ops"].dataset_id
  table_id            = each.key
  description         = each.value.description
  deletion_protection = var.deletion_protection

  view {
    use_legacy_sql = false
    query = replace(replace(replace(replace(replace(replace(replace(
      each.value.query,
      "$${project}", local.sql_params.project),
      "$${raw}", local.sql_params.raw),
      "$${stage}", local.sql_params.stage),
      "$${dim}", local.sql_params.dim),
      "$${mart}", local.sql_params.mart),
      "$${ops}", local.sql_params.ops),
    "$${report_tz}", local.sql_params.report_tz)
  }

  labels = {
    layer = "ops"
  }

  depends_on = [google_bigquery_table.ops]
}
