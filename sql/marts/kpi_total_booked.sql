-- kpi_total_booked: Total Booked (USD) per Sales BU per week.
-- Grain: one row per (week_start, bu); every Sales BU every week, 'unmapped' when non-empty.
-- Sources: ${dim}.dim_estimates, ${dim}.dim_kpi_grid, ${dim}.dim_week_days.
-- Rule: sum of subtotal of estimates whose status is Sold now (a Dismissed estimate with a
-- leftover soldOn does not count); test customers excluded; rounded to cents at the end.
-- Date basis: estimate soldOn, DATE(.., report TZ),
--   week from the tenant's week start (dim_weeks).
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_total_booked` AS
WITH facts AS (
  SELECT
    d.week_start,
    bu,
    subtotal
  FROM `${project}.${dim}.dim_estimates`
  LEFT JOIN `${project}.${dim}.dim_week_days` AS d ON d.day = sold_date
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
  g.week_start,
  g.bu,
  g.region,
  ROUND(COALESCE(a.booked, 0), 2) AS value,
  ROUND(COALESCE(a.booked, 0), 2) AS numerator,
  CAST(NULL AS NUMERIC) AS denominator
FROM `${project}.${dim}.dim_kpi_grid` AS g
LEFT JOIN weekly AS a ON a.week_start = g.week_start AND a.bu = g.bu
WHERE g.role = 'Sales' AND (g.always_reported OR a.fact_rows > 0);
