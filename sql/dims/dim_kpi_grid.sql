-- dim_kpi_grid: the rows a weekly KPI mart reports, the same for every KPI of a role
-- (KPIS.md "Role gating", "Output"): every week x every BU of the role, always reported
-- (0, 0.00 or NULL when empty), and the buckets 'unmapped' and 'unlinked', reported only in
-- the weeks they hold something (each mart's WHERE decides that from its own facts).
-- Grain: one row per (week_start, role, bu); role 'Sales' or 'Production'.
-- Sources: ${dim}.dim_weeks, ${dim}.dim_business_units (a BU's region: the map's, or the
-- text before its suffix; MIN when the map gives one name two regions).
CREATE OR REPLACE TABLE `${project}.${dim}.dim_kpi_grid` AS
WITH reported_bus AS (
  SELECT role, bu, MIN(region) AS region, TRUE AS always_reported
  FROM `${project}.${dim}.dim_business_units`
  WHERE role IN ('Sales', 'Production')
  GROUP BY role, bu
  UNION ALL
  SELECT 'Sales' AS role, 'unmapped' AS bu, 'unmapped' AS region, FALSE AS always_reported
  UNION ALL
  SELECT 'Sales', 'unlinked', 'unlinked', FALSE
  UNION ALL
  SELECT 'Production', 'unmapped', 'unmapped', FALSE
  UNION ALL
  SELECT 'Production', 'unlinked', 'unlinked', FALSE
)

SELECT w.week_start, w.week_end, b.role, b.bu, b.region, b.always_reported
FROM `${project}.${dim}.dim_weeks` AS w
CROSS JOIN reported_bus AS b;
