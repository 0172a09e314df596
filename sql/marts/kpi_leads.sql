-- kpi_leads: Leads per Sales BU per week.
-- Grain: one row per (week_start, bu); every Sales BU every week, 'unmapped' when non-empty.
-- Sources: ${dim}.dim_jobs, ${dim}.dim_business_units, ${dim}.dim_weeks.
-- Rule: distinct customers with >= 1 job whose job type name contains 'estimate' (any job
-- status, COMM estimate types included), test customers excluded; value = numerator.
-- Date basis: job createdOn, DATE(.., report TZ), week starting Monday.
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_leads` AS
WITH weeks AS (
  SELECT week_start FROM `${project}.${dim}.dim_weeks`
),

reported_bus AS (
  SELECT bu, MIN(region) AS region, TRUE AS always_reported
  FROM `${project}.${dim}.dim_business_units`
  WHERE role = 'Sales'
  GROUP BY bu
  UNION ALL
  SELECT 'unmapped' AS bu, 'unmapped' AS region, FALSE AS always_reported
),

facts AS (
  SELECT
    DATE_SUB(created_date, INTERVAL MOD(EXTRACT(DAYOFWEEK FROM created_date) + 5, 7) DAY) AS week_start,
    bu,
    customer_id
  FROM `${project}.${dim}.dim_jobs`
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
  w.week_start,
  b.bu,
  b.region,
  COALESCE(a.leads, 0) AS value,
  COALESCE(a.leads, 0) AS numerator,
  CAST(NULL AS INT64) AS denominator
FROM weeks AS w
CROSS JOIN reported_bus AS b
LEFT JOIN weekly AS a ON a.week_start = w.week_start AND a.bu = b.bu
WHERE b.always_reported OR a.fact_rows > 0;
