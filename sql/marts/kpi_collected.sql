-- kpi_collected: Dollars Collected per Production BU per week.
-- Grain: one row per (week_start, bu); every Production BU every week, 'unmapped' and
-- 'unlinked' when non-empty.
-- Sources: ${dim}.dim_payment_applications, ${dim}.dim_business_units, ${dim}.dim_weeks.
-- Rule: sum of appliedAmount of payments, each applied amount attributed to the BU of the
-- invoice it was applied to (through the invoice's job); amounts applied to unlinked or
-- unknown invoices go to 'unlinked'. Rounded to cents at the end.
-- Date basis: payment paidOn, DATE(.., report TZ), week starting Monday.
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_collected` AS
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
  UNION ALL
  SELECT 'unlinked' AS bu, 'unlinked' AS region, FALSE AS always_reported
),

facts AS (
  SELECT
    DATE_SUB(paid_date, INTERVAL MOD(EXTRACT(DAYOFWEEK FROM paid_date) + 5, 7) DAY) AS week_start,
    bu,
    applied_amount
  FROM `${project}.${dim}.dim_payment_applications`
  WHERE paid_date IS NOT NULL
    AND role IN ('Production', 'unmapped', 'unlinked')
),

weekly AS (
  SELECT week_start, bu, SUM(applied_amount) AS collected, COUNT(*) AS applications
  FROM facts
  GROUP BY week_start, bu
)

SELECT
  w.week_start,
  b.bu,
  b.region,
  ROUND(COALESCE(a.collected, 0), 2) AS value,
  ROUND(COALESCE(a.collected, 0), 2) AS numerator,
  CAST(NULL AS NUMERIC) AS denominator
FROM weeks AS w
CROSS JOIN reported_bus AS b
LEFT JOIN weekly AS a ON a.week_start = w.week_start AND a.bu = b.bu
WHERE b.always_reported OR a.applications > 0;
