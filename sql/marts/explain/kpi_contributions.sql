-- kpi_contributions: the records behind one KPI cell (used by `stkpi explain`).
-- Parameters (rendered): ${kpi}, ${bu}, ${week_start} as SQL literals.
-- Grain: one row per contributing record (job, estimate, appointment, invoice, payment
-- application); `excluded_because` says why a listed record does not count. For every
-- money KPI the counted amounts add up to the cell's numerator.
-- Weekly-flow KPIs list the records dated in the week. gpm lists each job completed in
-- the week with its margin (produced - labor - materials; materials only when the mart
-- included them). The as-of KPIs are taken at the week's Sunday D: outstanding_ar lists
-- the invoices dated by D with a balance left (paid-in-full ones would bury the rest),
-- future_bookings the estimates Sold by D whose job was not completed by D.
WITH params AS (
  SELECT ${kpi} AS kpi, ${bu} AS bu, ${week_start} AS week_start,
    DATE_ADD(${week_start}, INTERVAL 6 DAY) AS as_of
),

materials_switch AS (
  -- the mart's decision (include_materials, or whether purchasing is ingested)
  SELECT COALESCE(LOGICAL_OR(materials_included), TRUE) AS materials_included
  FROM `${project}.${mart}.kpi_gpm`
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
  UNION ALL
  SELECT 'gpm', 'job', CAST(j.job_id AS STRING), j.bu, j.completed_date,
    COALESCE(i.produced, 0) - COALESCE(l.labor_amount, 0)
      - IF(s.materials_included, COALESCE(m.materials_amount, 0), 0),
    CONCAT('produced ', CAST(COALESCE(i.produced, 0) AS STRING),
      ' - labor ', CAST(COALESCE(l.labor_amount, 0) AS STRING),
      ' - materials ', CAST(COALESCE(m.materials_amount, 0) AS STRING),
      IF(s.materials_included, '', ' (not included)')),
    CASE WHEN j.job_status != 'Completed' THEN 'not Completed'
      WHEN j.role NOT IN ('Production', 'unmapped') THEN CONCAT(j.role, ' BU') END
  FROM `${project}.${dim}.dim_jobs` AS j
  CROSS JOIN materials_switch AS s
  LEFT JOIN (
    SELECT job_id, SUM(sub_total) AS produced
    FROM `${project}.${dim}.dim_invoices` WHERE job_id IS NOT NULL GROUP BY job_id
  ) AS i ON i.job_id = j.job_id
  LEFT JOIN `${project}.${dim}.dim_job_labor` AS l ON l.job_id = j.job_id
  LEFT JOIN `${project}.${dim}.dim_job_materials` AS m ON m.job_id = j.job_id
),

invoice_balances AS (
  SELECT i.invoice_id, i.bu, i.role, i.invoice_date, COALESCE(i.total, 0) AS total,
    COALESCE(SUM(a.applied_amount), 0) AS applied
  FROM `${project}.${dim}.dim_invoices` AS i
  CROSS JOIN params AS p
  LEFT JOIN `${project}.${dim}.dim_payment_applications` AS a
    ON a.invoice_id = i.invoice_id AND a.paid_date <= p.as_of
  WHERE i.invoice_date <= p.as_of
  GROUP BY i.invoice_id, i.bu, i.role, i.invoice_date, i.total
),

later_visits AS (
  SELECT DISTINCT ap.job_id
  FROM `${project}.${dim}.dim_appointments` AS ap
  CROSS JOIN params AS p
  WHERE COALESCE(ap.status, '') != 'Canceled' AND ap.start_date > p.as_of
),

as_of_contributions AS (
  SELECT 'outstanding_ar' AS kpi, 'invoice' AS record_type,
    CAST(invoice_id AS STRING) AS record_id, bu, invoice_date AS d,
    GREATEST(total - applied, 0) AS amount,
    CONCAT('total ', CAST(total AS STRING), ' - applied by the as-of date ',
      CAST(applied AS STRING)) AS detail,
    CASE WHEN total - applied < 0 THEN 'credit balance: floored at 0, not netted'
      WHEN role NOT IN ('Production', 'unmapped', 'unlinked') THEN CONCAT(role, ' BU') END
      AS excluded_because
  FROM invoice_balances
  WHERE total != applied
  UNION ALL
  SELECT 'future_bookings', 'estimate', CAST(e.estimate_id AS STRING), e.bu, e.sold_date,
    e.subtotal,
    CONCAT('job ', IFNULL(CAST(e.job_id AS STRING), '?'), ' / ', IFNULL(j.job_status, '?')),
    CASE WHEN e.role NOT IN ('Production', 'unmapped') THEN CONCAT(e.role, ' BU')
      WHEN j.job_id IS NULL THEN 'job not found'
      WHEN COALESCE(j.job_status, '') = 'Canceled' THEN 'job Canceled'
      WHEN v.job_id IS NULL THEN 'no appointment after the as-of date' END
  FROM `${project}.${dim}.dim_estimates` AS e
  CROSS JOIN params AS p
  LEFT JOIN `${project}.${dim}.dim_jobs` AS j ON j.job_id = e.job_id
  LEFT JOIN later_visits AS v ON v.job_id = e.job_id
  WHERE e.status = 'Sold' AND e.sold_date <= p.as_of
    AND (j.completed_date IS NULL OR j.completed_date > p.as_of)
),

listed AS (
  SELECT c.*
  FROM contributions AS c
  CROSS JOIN params AS p
  WHERE c.d BETWEEN p.week_start AND p.as_of
  UNION ALL
  SELECT * FROM as_of_contributions
)

SELECT c.record_type, c.record_id, c.d AS local_date, c.amount, c.detail,
  c.excluded_because
FROM listed AS c
CROSS JOIN params AS p
WHERE c.kpi = p.kpi
  AND c.bu = p.bu
ORDER BY c.excluded_because IS NOT NULL, c.record_type, c.record_id;
