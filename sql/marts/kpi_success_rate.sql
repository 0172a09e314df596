-- kpi_success_rate: Success Rate (close rate) per Sales BU per week.
-- Grain: one row per (week_start, bu); every Sales BU every week, 'unmapped' when non-empty.
-- Sources: ${dim}.dim_jobs, ${dim}.dim_estimates, ${dim}.dim_kpi_grid, ${dim}.dim_week_days.
-- Rule: opportunity = one estimate-type job with status Completed (Hold, Canceled, ... are
-- not) completed in the week; closed = any of its estimates has status Sold now.
-- value = closed / opportunities (ratio of sums), NULL when there are no opportunities.
-- Test customers excluded.
-- Date basis: job completedOn, DATE(.., report TZ),
--   week from the tenant's week start (dim_weeks).
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_success_rate` AS
WITH sold_jobs AS (
  SELECT DISTINCT job_id
  FROM `${project}.${dim}.dim_estimates`
  WHERE status = 'Sold'
),

opportunities AS (
  SELECT
    d.week_start,
    j.bu,
    j.job_id,
    s.job_id IS NOT NULL AS is_closed
  FROM `${project}.${dim}.dim_jobs` AS j
  LEFT JOIN sold_jobs AS s ON s.job_id = j.job_id
  LEFT JOIN `${project}.${dim}.dim_week_days` AS d ON d.day = j.completed_date
  WHERE j.is_estimate_type
    AND j.job_status = 'Completed'
    AND j.completed_date IS NOT NULL
    AND NOT j.is_test_customer
    AND j.role IN ('Sales', 'unmapped')
),

weekly AS (
  SELECT week_start, bu, COUNTIF(is_closed) AS closed, COUNT(*) AS opportunities
  FROM opportunities
  GROUP BY week_start, bu
)

SELECT
  g.week_start,
  g.bu,
  g.region,
  SAFE_DIVIDE(CAST(COALESCE(a.closed, 0) AS NUMERIC), CAST(COALESCE(a.opportunities, 0) AS NUMERIC)) AS value,
  COALESCE(a.closed, 0) AS numerator,
  COALESCE(a.opportunities, 0) AS denominator
FROM `${project}.${dim}.dim_kpi_grid` AS g
LEFT JOIN weekly AS a ON a.week_start = g.week_start AND a.bu = g.bu
WHERE g.role = 'Sales' AND (g.always_reported OR a.opportunities > 0);
