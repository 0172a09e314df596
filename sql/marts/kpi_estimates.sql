-- kpi_estimates: Estimates per Sales BU per week.
-- Grain: one row per (week_start, bu); every Sales BU every week, 'unmapped' when non-empty.
-- Sources: ${dim}.dim_estimates (BU = the estimate's job's BU), ${dim}.dim_business_units,
--          ${dim}.dim_weeks.
-- Rule: count of estimates of any status on jobs of the BU, whatever the job type; test
-- customers excluded; value = numerator.
-- Date basis: estimate createdOn, DATE(.., report TZ),
--   week from the tenant's week start (dim_weeks).
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_estimates` AS
WITH facts AS (
  SELECT
    d.week_start,
    bu,
    estimate_id
  FROM `${project}.${dim}.dim_estimates`
  LEFT JOIN `${project}.${dim}.dim_week_days` AS d ON d.day = created_date
  WHERE NOT is_test_customer
    AND role IN ('Sales', 'unmapped')
),

weekly AS (
  SELECT week_start, bu, COUNT(*) AS estimates
  FROM facts
  GROUP BY week_start, bu
)

SELECT
  g.week_start,
  g.bu,
  g.region,
  COALESCE(a.estimates, 0) AS value,
  COALESCE(a.estimates, 0) AS numerator,
  CAST(NULL AS INT64) AS denominator
FROM `${project}.${dim}.dim_kpi_grid` AS g
LEFT JOIN weekly AS a ON a.week_start = g.week_start AND a.bu = g.bu
WHERE g.role = 'Sales' AND (g.always_reported OR a.estimates > 0);
