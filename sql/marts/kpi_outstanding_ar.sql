-- kpi_outstanding_ar: Outstanding A/R per Production BU, as of each week's Sunday.
-- Grain: one row per (week_start, bu); every Production BU every week, 'unmapped' and
-- 'unlinked' when they hold an open balance.
-- Sources: ${dim}.dim_invoices, ${dim}.dim_payment_applications,
--          ${dim}.dim_kpi_grid, ${dim}.dim_weeks.
-- Rule: as of D = week_end: sum over invoices with invoiceDate <= D of
-- max(0, total - amounts applied to it by payments with paidOn <= D). Floored per invoice
-- (a credit memo gives 0, it does not net against other invoices); total, never the
-- current balance. Unlinked invoices go to 'unlinked'. Rounded to cents at the end.
-- Date basis: as-of date D (local Sunday); invoiceDate and paidOn as local dates.
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_outstanding_ar` AS
WITH weeks AS (
  SELECT week_start, week_end FROM `${project}.${dim}.dim_weeks`
),

invoices AS (
  SELECT invoice_id, invoice_date, total, bu
  FROM `${project}.${dim}.dim_invoices`
  WHERE invoice_date IS NOT NULL
    AND role IN ('Production', 'unmapped', 'unlinked')
),

applications AS (
  SELECT invoice_id, paid_date, applied_amount
  FROM `${project}.${dim}.dim_payment_applications`
),

as_of AS (
  SELECT
    w.week_start,
    i.bu,
    i.invoice_id,
    i.total,
    COALESCE(SUM(a.applied_amount), 0) AS applied
  FROM weeks AS w
  INNER JOIN invoices AS i ON i.invoice_date <= w.week_end
  LEFT JOIN applications AS a
    ON a.invoice_id = i.invoice_id AND a.paid_date <= w.week_end
  GROUP BY w.week_start, i.bu, i.invoice_id, i.total
),

open_balances AS (
  SELECT week_start, bu, invoice_id, GREATEST(COALESCE(total, 0) - applied, 0) AS open_amount
  FROM as_of
),

weekly AS (
  SELECT week_start, bu, SUM(open_amount) AS outstanding, COUNTIF(open_amount > 0) AS open_invoices
  FROM open_balances
  GROUP BY week_start, bu
)

SELECT
  g.week_start,
  g.bu,
  g.region,
  ROUND(COALESCE(a.outstanding, 0), 2) AS value,
  ROUND(COALESCE(a.outstanding, 0), 2) AS numerator,
  CAST(NULL AS NUMERIC) AS denominator
FROM `${project}.${dim}.dim_kpi_grid` AS g
LEFT JOIN weekly AS a ON a.week_start = g.week_start AND a.bu = g.bu
WHERE g.role = 'Production' AND (g.always_reported OR a.open_invoices > 0);
