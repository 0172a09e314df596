-- dim_payment_applications: one row per (payment, applied-to invoice) amount.
-- Rows marked deleted by the key scan (deleted_at) and inactive ones (active = FALSE,
-- ServiceTitan's soft delete; docs/KPI_RULES.md "Inactive records") are left out.
-- Sources: ${raw}.payments (paid_on = the payment's `date`; payload appliedTo:
--          [{appliedTo: invoiceId, appliedAmount: "decimal string"}]), ${dim}.dim_invoices.
-- appliedAmount is accounting money, a decimal string: cast to NUMERIC exactly.
-- BU: the invoice's (through its resolved job). An unlinked invoice, or an invoice id we do
-- not have, puts the amount in the bucket 'unlinked'.
-- Date basis: paid_date = DATE(payment date, report TZ '${report_tz}').
CREATE OR REPLACE TABLE `${project}.${dim}.dim_payment_applications` AS
WITH payments AS (
  SELECT
    id AS payment_id,
    paid_on,
    DATE(paid_on, '${report_tz}') AS paid_date,
    total AS payment_total,
    payload
  FROM `${project}.${raw}.payments`
  WHERE deleted_at IS NULL  -- hard-deleted in ServiceTitan (stkpi.key_scan)
    AND active IS NOT FALSE
),

applications AS (
  SELECT
    p.payment_id,
    p.paid_on,
    p.paid_date,
    p.payment_total,
    SAFE_CAST(JSON_VALUE(a, '$$.appliedTo') AS INT64) AS invoice_id,
    SAFE_CAST(JSON_VALUE(a, '$$.appliedAmount') AS NUMERIC) AS applied_amount
  FROM payments AS p
  CROSS JOIN UNNEST(JSON_QUERY_ARRAY(p.payload, '$$.appliedTo')) AS a
),

invoices AS (
  SELECT invoice_id, job_id, link_method, bu, role, region
  FROM `${project}.${dim}.dim_invoices`
)

SELECT
  a.payment_id,
  a.paid_on,
  a.paid_date,
  a.payment_total,
  a.invoice_id,
  a.applied_amount,
  i.job_id,
  COALESCE(i.link_method, 'unlinked') AS link_method,
  COALESCE(i.bu, 'unlinked') AS bu,
  COALESCE(i.role, 'unlinked') AS role,
  COALESCE(i.region, 'unlinked') AS region
FROM applications AS a
LEFT JOIN invoices AS i ON i.invoice_id = a.invoice_id;
