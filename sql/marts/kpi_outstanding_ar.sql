-- kpi_outstanding_ar: Outstanding A/R per Production BU, as of each week's last day.
-- Grain: one row per (week_start, bu); every Production BU every week, 'unmapped' and
-- 'unlinked' when they hold an open balance.
-- Sources: ${dim}.dim_invoices, ${dim}.dim_payment_applications,
--          ${dim}.dim_kpi_grid, ${dim}.dim_weeks.
-- Rule: as of D = week_end: sum over invoices with invoiceDate <= D of
-- max(0, total - amounts applied to it by payments dated (`date`) <= D). Floored per invoice
-- (a credit memo gives 0, it does not net against other invoices); total, never the
-- current balance. Unlinked invoices go to 'unlinked'. Rounded to cents at the end.
-- Date basis: as-of date D = week_end (the week's last local day);
--   invoiceDate and the payment date as local dates.
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

-- An invoice's open amount changes only on its invoice date and on the dates payments
-- are applied to it after that: one segment per change, [from_date, until_date), each
-- with the open amount as of its first day. A week's as-of date falls in exactly one
-- segment of every invoice dated on or before it, so joining weeks to segments by range
-- gives the same rows as joining every week to every earlier invoice and summing its
-- payments again, at the cost of the rows that exist rather than weeks x invoices.
change_dates AS (
  SELECT invoice_id, invoice_date AS from_date FROM invoices
  UNION DISTINCT
  SELECT a.invoice_id, a.paid_date AS from_date
  FROM applications AS a
  INNER JOIN invoices AS i ON i.invoice_id = a.invoice_id
  WHERE a.paid_date > i.invoice_date
),

balances AS (
  SELECT
    c.invoice_id,
    c.from_date,
    i.bu,
    GREATEST(COALESCE(i.total, 0) - COALESCE(SUM(a.applied_amount), 0), 0) AS open_amount
  FROM change_dates AS c
  INNER JOIN invoices AS i ON i.invoice_id = c.invoice_id
  LEFT JOIN applications AS a
    ON a.invoice_id = c.invoice_id AND a.paid_date <= c.from_date
  GROUP BY c.invoice_id, c.from_date, i.bu, i.total
),

segments AS (
  SELECT
    invoice_id,
    bu,
    open_amount,
    from_date,
    COALESCE(
      LEAD(from_date) OVER (PARTITION BY invoice_id ORDER BY from_date), DATE '9999-12-31'
    ) AS until_date
  FROM balances
),

-- Segments with nothing open add 0 to the sum and to the count: left out.
open_balances AS (
  SELECT w.week_start, s.bu, s.invoice_id, s.open_amount
  FROM segments AS s
  INNER JOIN weeks AS w ON w.week_end >= s.from_date AND w.week_end < s.until_date
  WHERE s.open_amount > 0
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
