-- kpi_warranty_pct: Warranty % of Production per Production BU per week.
-- Grain: one row per (week_start, bu); every Production BU every week, 'unmapped' when
-- non-empty.
-- Sources: ${dim}.dim_jobs, ${dim}.dim_business_units, ${dim}.dim_weeks.
-- Rule: warranty jobs (job type name contains a warranty pattern) completed in the week /
-- all jobs completed in the week in the BU; NULL when none completed.
-- Date basis: job completedOn, DATE(.., report TZ), week starting Monday.
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_warranty_pct` AS
WITH weeks AS (
  SELECT week_start FROM `${project}.${dim}.dim_weeks`
),

reported_bus AS (
  SELECT bu, MIN(region) AS region, TRUE AS always_reported
  FROM `${project}.${dim}.dim_business_units`
  WHERE role = 'Production'
  GROUP BY bu
  UNION ALL
  SELECT 'unmapped' AS bu, 'unmapped' AS region, FALSE AS always_reported
),

completed_jobs AS (
  SELECT
    DATE_SUB(completed_date, INTERVAL MOD(EXTRACT(DAYOFWEEK FROM completed_date) + 5, 7) DAY) AS week_start,
    bu,
    job_id,
    is_warranty_type
  FROM `${project}.${dim}.dim_jobs`
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
  w.week_start,
  b.bu,
  b.region,
  SAFE_DIVIDE(CAST(COALESCE(a.warranty_jobs, 0) AS NUMERIC), CAST(COALESCE(a.completed_jobs, 0) AS NUMERIC)) AS value,
  COALESCE(a.warranty_jobs, 0) AS numerator,
  COALESCE(a.completed_jobs, 0) AS denominator
FROM weeks AS w
CROSS JOIN reported_bus AS b
LEFT JOIN weekly AS a ON a.week_start = w.week_start AND a.bu = b.bu
WHERE b.always_reported OR a.completed_jobs > 0;
