-- Validation join_payments_invoices: share of payment applications whose invoice we have.
-- Grain: one row. Sources: ${raw}.payments (payload appliedTo: [{appliedTo, appliedAmount}]),
-- ${raw}.invoices. Counted per application (a payment split over two invoices is two).
WITH applications AS (
  SELECT
    p.id AS payment_id,
    SAFE_CAST(JSON_VALUE(a, '$$.appliedTo') AS INT64) AS invoice_id,
    SAFE_CAST(JSON_VALUE(a, '$$.appliedAmount') AS NUMERIC) AS applied_amount
  FROM `${project}.${raw}.payments` AS p
  CROSS JOIN UNNEST(JSON_QUERY_ARRAY(p.payload, '$$.appliedTo')) AS a
),

invoices AS (
  SELECT DISTINCT id AS invoice_id
  FROM `${project}.${raw}.invoices`
),

checked AS (
  SELECT a.applied_amount, i.invoice_id IS NOT NULL AS linked
  FROM applications AS a
  LEFT JOIN invoices AS i ON i.invoice_id = a.invoice_id
)

SELECT
  COUNT(*) AS total,
  COUNTIF(linked) AS linked,
  CAST(SUM(IF(linked, 0, applied_amount)) AS FLOAT64) AS unlinked_amount
FROM checked
