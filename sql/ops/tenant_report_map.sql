-- Ops: the tenant's report map (stkpi.tenant_maps): which of its ServiceTitan reports and
-- fields feed the reconciliation of each KPI (stkpi.reconcile.mapping.ReportSource).
-- Written by the operator (`stkpi tenant init` from the tenant's own reports, `stkpi
-- tenant map-report`, `stkpi tenant import`), read by rebuild_dims when it reconciles.
-- Append-only, as tenant_bu_map: the latest map_version per tenant is the map.
-- Grain: one row per (tenant, version, kpi, kind).
CREATE TABLE IF NOT EXISTS `${project}.${ops}.tenant_report_map` (
  tenant_id   STRING NOT NULL,
  map_version TIMESTAMP NOT NULL,
  source      STRING NOT NULL,
  kpi         STRING NOT NULL,
  kind        STRING NOT NULL,
  category    STRING NOT NULL,
  report_id   INT64 NOT NULL,
  bu_field    STRING NOT NULL,
  date_field  STRING,
  id_field    STRING,
  value_field STRING
)
PARTITION BY DATE(map_version)
CLUSTER BY tenant_id;
