-- Ops: the deployment's tenant registry (stkpi.tenants; docs/TENANTS.md). Each row is one
-- version of one tenant: its display name, the Secret Manager secret that holds each of
-- its ServiceTitan credentials (names only, never a value), the time zone its KPIs are
-- reported in and the day its weeks start on. Written by `stkpi tenant add` after the
-- doctor's checks passed with the tenant's own credentials; read by the functions at run
-- time. Append-only (streaming inserts): the latest version per tenant_id is the tenant.
-- The deployment's default tenant (ST_TENANT_ID or its secret) is not listed here.
-- Grain: one row per (tenant, version).
CREATE TABLE IF NOT EXISTS `${project}.${ops}.tenants` (
  tenant_id            STRING NOT NULL,
  version              TIMESTAMP NOT NULL,
  display_name         STRING NOT NULL,
  client_id_secret     STRING NOT NULL,
  client_secret_secret STRING NOT NULL,
  app_key_secret       STRING NOT NULL,
  time_zone            STRING NOT NULL,
  weeks_start          STRING NOT NULL,
  added_by             STRING
)
PARTITION BY DATE(version)
CLUSTER BY tenant_id;
