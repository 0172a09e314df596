-- kpi_collected: Dollars Collected per Production BU per week.
-- Grain: one row per (week_start, bu); every Production BU every week, 'unmapped' and
-- 'unlinked' when non-empty.
-- Sources: ${dim}.dim_payment_applications, ${dim}.dim_kpi_grid, ${dim}.dim_week_days.
-- Rule: sum of appliedAmount of payments, each applied amount attributed to the BU of the
-- invoice it was applied to (through the invoice's job); amounts applied to unlinked or
-- unknown invoices go to 'unlinked'. Rounded to cents at the end.
-- Date basis: the payment's date (ServiceTitan's `date`; KPIS.md calls it paidOn), DATE(.., report
-- TZ), week from the tenant's week start (dim_weeks).
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_collected` AS
WITH facts AS (
  SELECT
    d.week_start,
    bu,
    applied_amount
  FROM `${project}.${dim}.dim_payment_applications`
  LEFT JOIN `${project}.${dim}.dim_week_days` AS d ON d.day = paid_date
  WHERE paid_date IS NOT NULL
    AND role IN ('Production', 'unmapped', 'unlinked')
),

weekly AS (
  SELECT week_start, bu, SUM(applied_amount) AS collected, COUNT(*) AS applications
  FROM facts
  GROUP BY week_start, bu
)

SELECT
  g.week_start,
  g.bu,
  g.region,
  ROUND(COALESCE(a.collected, 0), 2) AS value,
  ROUND(COALESCE(a.collected, 0), 2) AS numerator,
  CAST(NULL AS NUMERIC) AS denominator
FROM `${project}.${dim}.dim_kpi_grid` AS g
LEFT JOIN weekly AS a ON a.week_start = g.week_start AND a.bu = g.bu
WHERE g.role = 'Production' AND (g.always_reported OR a.applications > 0);
