-- kpi_total_booked: Total Booked (USD) per Sales BU per week.
-- Grain: one row per (week_start, bu); every Sales BU every week, 'unmapped' when non-empty.
-- Sources: ${dim}.dim_estimates, ${dim}.dim_business_units, ${dim}.dim_weeks.
-- Rule: sum of subtotal of estimates whose status is Sold now (a Dismissed estimate with a
-- leftover soldOn does not count); test customers excluded; rounded to cents at the end.
-- Date basis: estimate soldOn, DATE(.., report TZ), week starting Monday.
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_total_booked` AS
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
    DATE_SUB(sold_date, INTERVAL MOD(EXTRACT(DAYOFWEEK FROM sold_date) + 5, 7) DAY) AS week_start,
    bu,
    subtotal
  FROM `${project}.${dim}.dim_estimates`
  WHERE status = 'Sold'
    AND sold_date IS NOT NULL
    AND NOT is_test_customer
    AND role IN ('Sales', 'unmapped')
),

weekly AS (
  SELECT week_start, bu, SUM(subtotal) AS booked, COUNT(*) AS fact_rows
  FROM facts
  GROUP BY week_start, bu
)

SELECT
  w.week_start,
  b.bu,
  b.region,
  ROUND(COALESCE(a.booked, 0), 2) AS value,
  ROUND(COALESCE(a.booked, 0), 2) AS numerator,
  CAST(NULL AS NUMERIC) AS denominator
FROM weeks AS w
CROSS JOIN reported_bus AS b
LEFT JOIN weekly AS a ON a.week_start = w.week_start AND a.bu = b.bu
WHERE b.always_reported OR a.fact_rows > 0;
