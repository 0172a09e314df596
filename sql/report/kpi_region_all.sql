-- Report: the last ${weeks} weeks of every KPI per region, summed over every tenant of one
-- time zone and week start (the 'combined' rows of the deployment's view kpi_weekly_all,
-- stkpi.combined; its rules: docs/KPI_RULES.md, "KPIs across tenants"), long form.
-- Grain: one row per (week_start, region, kpi). bus: NULL (a cell is explained tenant by
-- tenant); tenant_ids: the tenants the row sums.
WITH group_rows AS (
  SELECT *
  FROM `${project}.${mart}.kpi_weekly_all`
  WHERE scope = 'combined' AND time_zone = ${time_zone} AND weeks_start = ${weeks_start}
),

last_week AS (
  SELECT MAX(week_start) AS last_start
  FROM group_rows
)

SELECT
  g.week_start,
  g.region,
  g.kpi,
  g.kind,
  g.value,
  g.numerator,
  g.denominator,
  CAST(NULL AS STRING) AS bus,
  g.tenant_ids
FROM group_rows AS g
CROSS JOIN last_week AS l
WHERE g.week_start > DATE_SUB(l.last_start, INTERVAL ${days} DAY)
ORDER BY g.kpi, g.region, g.week_start
