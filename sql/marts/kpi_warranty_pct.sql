-- kpi_warranty_pct: Warranty % of Production per Production BU per week.
-- Grain: one row per (week_start, bu); every Production BU every week, 'unmapped' when
-- non-empty.
-- Sources: ${dim}.dim_jobs, ${dim}.dim_kpi_grid, ${dim}.dim_week_days.
-- Rule: warranty jobs (job type name contains a warranty pattern) completed in the week /
-- all jobs completed in the week in the BU; NULL when none completed.
-- Date basis: job completedOn, DATE(.., report TZ),
--   week from the tenant's week start (dim_weeks).
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_warranty_pct` AS
WITH completed_jobs AS (
  SELECT
    d.week_start,
    bu,
    job_id,
    is_warranty_type
  FROM `${project}.${dim}.dim_jobs`
  LEFT JOIN `${project}.${dim}.dim_week_days` AS d ON d.day = completed_date
  WHERE job_status = 'Completed'
    AND completed_date IS NOT NULL
    AND role IN ('Production', 'unmapped')
),

weekly AS (
  SELECT week_start, bu, COUNTIF(is_warranty_type) AS warranty_jobs, COUNT(*) AS completed_jobs
  FROM completed_jobs
  GROUP BY week_start, bu
)

SELECT
  g.week_start,
  g.bu,
  g.region,
  SAFE_DIVIDE(CAST(COALESCE(a.warranty_jobs, 0) AS NUMERIC), CAST(COALESCE(a.completed_jobs, 0) AS NUMERIC)) AS value,
  COALESCE(a.warranty_jobs, 0) AS numerator,
  COALESCE(a.completed_jobs, 0) AS denominator
FROM `${project}.${dim}.dim_kpi_grid` AS g
LEFT JOIN weekly AS a ON a.week_start = g.week_start AND a.bu = g.bu
WHERE g.role = 'Production' AND (g.always_reported OR a.completed_jobs > 0);
