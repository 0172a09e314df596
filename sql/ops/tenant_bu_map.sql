-- Ops: the tenant's business-unit map (stkpi.tenant_maps): which reporting name, role
-- (Sales | Production) and region rollup each ServiceTitan business unit has. Written by
-- the operator (`stkpi tenant init` from the tenant's own business units, `stkpi tenant
-- map-bu`, `stkpi tenant import`), read by rebuild_dims at every rebuild (the marts' seed
-- table st_dim.seed_bu_map). Append-only: every write is the tenant's whole map under a
-- new map_version; the latest version per tenant is the map. A row with role NULL is a
-- business unit found in ServiceTitan but not mapped yet (validation kpi.bu_map: YELLOW).
-- Grain: one row per (tenant, version, business unit). Keyed by tenant_id for deployments
-- that serve several tenants.
CREATE TABLE IF NOT EXISTS `${project}.${ops}.tenant_bu_map` (
  tenant_id       STRING NOT NULL,
  map_version     TIMESTAMP NOT NULL,
  source          STRING NOT NULL,
  bu_id           INT64,
  bu_name         STRING NOT NULL,
  normalized_name STRING,
  role            STRING,
  region          STRING,
  active          BOOL
)
PARTITION BY DATE(map_version)
CLUSTER BY tenant_id;
