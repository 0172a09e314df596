-- kpi_estimates_scheduled: Estimates Scheduled per Sales BU per week.
-- Grain: one row per (week_start, bu); every Sales BU every week, 'unmapped' when non-empty.
-- Sources: ${dim}.dim_appointments, ${dim}.dim_kpi_grid, ${dim}.dim_week_days.
-- Rule: count of appointments (two visits = 2) of estimate-type jobs, every status except
-- Canceled; test customers excluded; value = numerator.
-- Date basis: appointment start, DATE(.., report TZ),
--   week from the tenant's week start (dim_weeks).
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_estimates_scheduled` AS
WITH facts AS (
  SELECT
    d.week_start,
    bu,
    appointment_id
  FROM `${project}.${dim}.dim_appointments`
  LEFT JOIN `${project}.${dim}.dim_week_days` AS d ON d.day = start_date
  WHERE is_estimate_type
    AND COALESCE(status, '') != 'Canceled'
    AND start_date IS NOT NULL
    AND NOT is_test_customer
    AND role IN ('Sales', 'unmapped')
),

weekly AS (
  SELECT week_start, bu, COUNT(*) AS scheduled
  FROM facts
  GROUP BY week_start, bu
)

SELECT
  g.week_start,
  g.bu,
  g.region,
  COALESCE(a.scheduled, 0) AS value,
  COALESCE(a.scheduled, 0) AS numerator,
  CAST(NULL AS INT64) AS denominator
FROM `${project}.${dim}.dim_kpi_grid` AS g
LEFT JOIN weekly AS a ON a.week_start = g.week_start AND a.bu = g.bu
WHERE g.role = 'Sales' AND (g.always_reported OR a.scheduled > 0);
