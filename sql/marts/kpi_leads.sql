-- kpi_leads: Leads per Sales BU per week.
-- Grain: one row per (week_start, bu); every Sales BU every week, 'unmapped' when non-empty.
-- Sources: ${dim}.dim_jobs, ${dim}.dim_kpi_grid, ${dim}.dim_week_days.
-- Rule: distinct customers with >= 1 job whose job type name contains 'estimate' (any job
-- status, COMM estimate types included), test customers excluded; value = numerator.
-- Date basis: job createdOn, DATE(.., report TZ),
--   week from the tenant's week start (dim_weeks).
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_leads` AS
WITH facts AS (
  SELECT
    d.week_start,
    bu,
    customer_id
  FROM `${project}.${dim}.dim_jobs`
  LEFT JOIN `${project}.${dim}.dim_week_days` AS d ON d.day = created_date
  WHERE is_estimate_type
    AND NOT is_test_customer
    AND role IN ('Sales', 'unmapped')
),

weekly AS (
  SELECT week_start, bu, COUNT(DISTINCT customer_id) AS leads, COUNT(*) AS fact_rows
  FROM facts
  GROUP BY week_start, bu
)

SELECT
  g.week_start,
  g.bu,
  g.region,
  COALESCE(a.leads, 0) AS value,
  COALESCE(a.leads, 0) AS numerator,
  CAST(NULL AS INT64) AS denominator
FROM `${project}.${dim}.dim_kpi_grid` AS g
LEFT JOIN weekly AS a ON a.week_start = g.week_start AND a.bu = g.bu
WHERE g.role = 'Sales' AND (g.always_reported OR a.fact_rows > 0);
