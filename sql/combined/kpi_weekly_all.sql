-- kpi_weekly_all: the weekly KPIs of every tenant of the deployment per region, and their
-- sums across tenants where a sum means something (docs/KPI_RULES.md, "KPIs across
-- tenants"). A view in the deployment's mart dataset over each tenant's own kpi_weekly:
-- it reads the tenants' marts as they are now, so no rebuild order among tenants matters.
-- Grain: one row per (scope, tenant_id, time_zone, weeks_start, week_start, region, kpi):
--   scope 'tenant': one tenant's region rollup (its kpi_weekly_region, long), buckets
--     'unmapped' / 'unlinked' included as their own regions;
--   scope 'combined': tenant_id NULL, the sum over the tenants of one (time_zone,
--     weeks_start) group that report the region in that week; a week row never mixes
--     time zones or week starts, and the buckets never combine (they are one tenant's
--     mapping gaps, not a place).
-- Sources: each tenant's ${mart}.kpi_weekly, rendered as tenant_union by stkpi.combined
--   (the default tenant and every registered tenant whose marts exist).
-- Rule: counts and money are summed; ratios are recomputed from the summed numerators and
--   denominators (NULL when the summed denominator is 0), never summed or averaged.
--   tenants = how many tenants a row sums, tenant_ids = which (comma-separated).
-- This file is the view's query: stkpi.combined creates the view ${project}.${mart}.
--   kpi_weekly_all with it through the tables API, the description naming its tenants.
WITH tenant_long AS (
${tenant_union}
),

tenant_region AS (
  SELECT
    'tenant' AS scope,
    tenant_id, display_name, time_zone, weeks_start, week_start, region, kpi,
    MAX(kind) AS kind,
    SUM(value) AS value_sum,
    SUM(numerator) AS numerator,
    SUM(denominator) AS denominator,
    1 AS tenants,
    tenant_id AS tenant_ids
  FROM tenant_long
  GROUP BY tenant_id, display_name, time_zone, weeks_start, week_start, region, kpi
),

combined AS (
  SELECT
    'combined' AS scope,
    CAST(NULL AS STRING) AS tenant_id,
    'all tenants' AS display_name,
    time_zone, weeks_start, week_start, region, kpi,
    MAX(kind) AS kind,
    SUM(value_sum) AS value_sum,
    SUM(numerator) AS numerator,
    SUM(denominator) AS denominator,
    COUNT(DISTINCT tenant_id) AS tenants,
    STRING_AGG(DISTINCT tenant_id, ',') AS tenant_ids
  FROM tenant_region
  WHERE region NOT IN ('unmapped', 'unlinked')
  GROUP BY time_zone, weeks_start, week_start, region, kpi
),

both_scopes AS (
  SELECT * FROM tenant_region
  UNION ALL
  SELECT * FROM combined
)

SELECT
  scope, tenant_id, display_name, time_zone, weeks_start, week_start, region, kpi, kind,
  IF(kind = 'ratio', SAFE_DIVIDE(numerator, denominator), value_sum) AS value,
  numerator, denominator, tenants, tenant_ids
FROM both_scopes
