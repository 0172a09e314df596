-- reconcile_records: our side of a reconciliation with ServiceTitan's reports, record by
-- record, for the KPIs ServiceTitan reports (leads, estimates, total_booked, produced,
-- collected). Used by `stkpi reconcile` (stkpi.reconcile); the single-cell view of the same
-- records is `stkpi explain` (kpi_contributions.sql).
-- Parameters (rendered): ${week_from}, ${week_to} (Mondays, DATE literals) and ${st_keys}
-- (ARRAY<STRING> of 'kpi:record_id' that ServiceTitan listed, so a record it dates in the
-- range is found here whatever our date).
-- Grain: one row per (kpi, record) dated in the range by our rule, or named in ${st_keys}.
-- Columns: amount = what the record adds to our KPI cell (counts: 1 or 0); counted = it
-- counts; excluded_because = why not (test customer, customer already counted, job not
-- Completed, role of the BU, no job link); st_date = the date ServiceTitan's report gives
-- it (produced: the invoice date; otherwise our date). Dates are report-TZ local dates.
WITH jobs AS (
  SELECT *,
    DATE_SUB(created_date, INTERVAL MOD(EXTRACT(DAYOFWEEK FROM created_date) + 5, 7) DAY)
      AS created_week
  FROM `${project}.${dim}.dim_jobs`
),

leads AS (
  SELECT 'leads' AS kpi, CAST(job_id AS STRING) AS record_id, bu, role, created_date AS d,
    created_date AS st_date, customer_id,
    CASE WHEN is_test_customer THEN 'test customer'
      WHEN role NOT IN ('Sales', 'unmapped') THEN CONCAT(role, ' BU: not a Sales KPI')
      WHEN ROW_NUMBER() OVER (PARTITION BY bu, created_week, customer_id, is_test_customer
        ORDER BY job_id) > 1 THEN 'customer already counted this week (leads per job)'
    END AS excluded_because,
    CAST(1 AS NUMERIC) AS gross
  FROM jobs
  WHERE is_estimate_type
),

estimates AS (
  SELECT 'estimates' AS kpi, CAST(estimate_id AS STRING) AS record_id, bu, role,
    created_date AS d, created_date AS st_date, customer_id,
    CASE WHEN is_test_customer THEN 'test customer'
      WHEN role NOT IN ('Sales', 'unmapped') THEN CONCAT(role, ' BU: not a Sales KPI') END
      AS excluded_because,
    CAST(1 AS NUMERIC) AS gross
  FROM `${project}.${dim}.dim_estimates`
  UNION ALL
  SELECT 'total_booked', CAST(estimate_id AS STRING), bu, role, sold_date, sold_date,
    customer_id,
    CASE WHEN is_test_customer THEN 'test customer'
      WHEN role NOT IN ('Sales', 'unmapped') THEN CONCAT(role, ' BU: not a Sales KPI') END,
    CAST(subtotal AS NUMERIC)
  FROM `${project}.${dim}.dim_estimates`
  WHERE status = 'Sold' AND sold_date IS NOT NULL
),

money AS (
  SELECT 'produced' AS kpi, CAST(i.invoice_id AS STRING) AS record_id, i.bu, i.role,
    IF(j.job_status = 'Completed', j.completed_date, NULL) AS d, i.invoice_date AS st_date,
    j.customer_id,
    CASE WHEN i.job_id IS NULL THEN 'invoice without a job link'
      WHEN COALESCE(j.job_status, '') != 'Completed' THEN 'job not Completed'
      WHEN j.completed_date IS NULL THEN 'job has no completion date'
      WHEN i.role NOT IN ('Production', 'unmapped') THEN CONCAT(i.role, ' BU: not a Production KPI')
    END AS excluded_because,
    CAST(i.sub_total AS NUMERIC) AS gross
  FROM `${project}.${dim}.dim_invoices` AS i
  LEFT JOIN jobs AS j ON j.job_id = i.job_id
  UNION ALL
  SELECT 'collected', CONCAT(CAST(payment_id AS STRING), '->', CAST(invoice_id AS STRING)),
    bu, role, paid_date, paid_date, NULL,
    IF(role NOT IN ('Production', 'unmapped', 'unlinked'),
      CONCAT(role, ' BU: not a Production KPI'), NULL),
    CAST(applied_amount AS NUMERIC)
  FROM `${project}.${dim}.dim_payment_applications`
),

all_records AS (
  SELECT * FROM leads
  UNION ALL SELECT * FROM estimates
  UNION ALL SELECT * FROM money
),

dated AS (
  SELECT *,
    DATE_SUB(d, INTERVAL MOD(EXTRACT(DAYOFWEEK FROM d) + 5, 7) DAY) AS week_start
  FROM all_records
)

SELECT kpi, record_id, bu, role, week_start, d AS local_date, st_date, customer_id,
  excluded_because, excluded_because IS NULL AS counted,
  IF(excluded_because IS NULL, gross, CAST(0 AS NUMERIC)) AS amount, gross
FROM dated
WHERE (week_start BETWEEN ${week_from} AND ${week_to})
  OR (st_date BETWEEN ${week_from} AND DATE_ADD(${week_to}, INTERVAL 6 DAY))
  OR CONCAT(kpi, ':', record_id) IN UNNEST(${st_keys})
ORDER BY kpi, record_id;
