-- kpi_contributions: the records behind one KPI cell (used by `stkpi explain`).
-- Parameters (rendered): ${kpi}, ${bu}, ${week_start} as SQL literals.
-- Grain: one row per contributing record (job, estimate, appointment, invoice, payment
-- application); `counts` says whether the record counts, `reason` why not.
-- Covers the weekly-flow KPIs; as-of KPIs (outstanding_ar, future_bookings) and gpm are
-- explained by their mart row (numerator, denominator, labor, materials).
WITH params AS (
  SELECT ${kpi} AS kpi, ${bu} AS bu, ${week_start} AS week_start
),

jobs AS (
  SELECT
    'job' AS record_type, CAST(j.job_id AS STRING) AS record_id, j.bu,
    j.created_date, j.completed_date, j.job_status, j.is_estimate_type, j.is_warranty_type,
    j.is_test_customer, j.customer_id, j.customer_name, j.job_type_name
  FROM `${project}.${dim}.dim_jobs` AS j
),

contributions AS (
  SELECT 'leads' AS kpi, record_type, record_id, bu, created_date AS d,
    CAST(NULL AS NUMERIC) AS amount,
    CONCAT('customer ', IFNULL(CAST(customer_id AS STRING), '?'), ' ', IFNULL(customer_name, ''),
      ' / ', IFNULL(job_type_name, '?'), ' / ', IFNULL(job_status, '?')) AS detail,
    IF(is_test_customer, 'test customer', NULL) AS excluded_because
  FROM jobs WHERE is_estimate_type
  UNION ALL
  SELECT 'success_rate', record_type, record_id, bu, completed_date, NULL,
    CONCAT(IFNULL(job_type_name, '?'), ' / ', IFNULL(job_status, '?')),
    CASE WHEN is_test_customer THEN 'test customer'
      WHEN job_status != 'Completed' THEN 'not Completed' END
  FROM jobs WHERE is_estimate_type
  UNION ALL
  SELECT 'warranty_pct', record_type, record_id, bu, completed_date, NULL,
    CONCAT(IFNULL(job_type_name, '?'), IF(is_warranty_type, ' (warranty)', '')),
    IF(job_status != 'Completed', 'not Completed', NULL)
  FROM jobs
  UNION ALL
  SELECT 'estimates', 'estimate', CAST(estimate_id AS STRING), bu, created_date, subtotal,
    CONCAT('job ', IFNULL(CAST(job_id AS STRING), '?'), ' / ', IFNULL(status, '?')),
    IF(is_test_customer, 'test customer', NULL)
  FROM `${project}.${dim}.dim_estimates`
  UNION ALL
  SELECT 'total_booked', 'estimate', CAST(estimate_id AS STRING), bu, sold_date, subtotal,
    CONCAT('job ', IFNULL(CAST(job_id AS STRING), '?'), ' / ', IFNULL(status, '?'),
      ' / soldOn UTC date ', IFNULL(CAST(DATE(sold_on) AS STRING), '-')),
    CASE WHEN is_test_customer THEN 'test customer'
      WHEN status != 'Sold' THEN CONCAT('status ', status) END
  FROM `${project}.${dim}.dim_estimates` WHERE sold_date IS NOT NULL
  UNION ALL
  SELECT 'estimates_scheduled', 'appointment', CAST(appointment_id AS STRING), bu, start_date,
    NULL, CONCAT('job ', IFNULL(CAST(job_id AS STRING), '?'), ' / ', IFNULL(status, '?')),
    CASE WHEN is_test_customer THEN 'test customer'
      WHEN status = 'Canceled' THEN 'Canceled' END
  FROM `${project}.${dim}.dim_appointments` WHERE is_estimate_type
  UNION ALL
  SELECT 'produced', 'invoice', CAST(i.invoice_id AS STRING), j.bu, j.completed_date,
    i.sub_total, CONCAT('job ', CAST(i.job_id AS STRING), ' linked by ', i.link_method),
    IF(j.job_status != 'Completed', 'job not Completed', NULL)
  FROM `${project}.${dim}.dim_invoices` AS i
  INNER JOIN jobs AS j ON j.record_id = CAST(i.job_id AS STRING)
  UNION ALL
  SELECT 'collected', 'payment', CONCAT(CAST(payment_id AS STRING), '->', CAST(invoice_id AS STRING)),
    bu, paid_date, applied_amount, CONCAT('invoice link ', link_method), NULL
  FROM `${project}.${dim}.dim_payment_applications`
)

SELECT c.record_type, c.record_id, c.d AS local_date, c.amount, c.detail,
  c.excluded_because
FROM contributions AS c
CROSS JOIN params AS p
WHERE c.kpi = p.kpi
  AND c.bu = p.bu
  AND c.d BETWEEN p.week_start AND DATE_ADD(p.week_start, INTERVAL 6 DAY)
ORDER BY c.excluded_because IS NOT NULL, c.record_type, c.record_id;
