-- dim_estimates: one row per estimate, attributed to its job's BU.
-- Rows marked deleted by the key scan (deleted_at) and inactive ones (active = FALSE,
-- ServiceTitan's soft delete; docs/KPI_RULES.md "Inactive records") are left out.
-- Sources: ${raw}.estimates, ${dim}.dim_jobs.
-- status is the current status name (Open|Sold|Dismissed); a Dismissed estimate may keep a
-- leftover sold_on: KPIs must test status, not sold_on.
-- An estimate whose job is unknown is in the bucket 'unmapped'.
-- Date basis: created_date / sold_date = DATE(ts, report TZ '${report_tz}').
CREATE OR REPLACE TABLE `${project}.${dim}.dim_estimates` AS
WITH estimates AS (
  SELECT
    id AS estimate_id,
    job_id,
    COALESCE(status, JSON_VALUE(payload, '$$.status.name')) AS status,
    subtotal,
    tax,
    created_on,
    DATE(created_on, '${report_tz}') AS created_date,
    sold_on,
    DATE(sold_on, '${report_tz}') AS sold_date
  FROM `${project}.${raw}.estimates`
  WHERE deleted_at IS NULL  -- hard-deleted in ServiceTitan (stkpi.key_scan)
    AND active IS NOT FALSE
),

jobs AS (
  SELECT job_id, customer_id, is_test_customer, bu, role, region, job_status,
    completed_date, is_estimate_type
  FROM `${project}.${dim}.dim_jobs`
)

SELECT
  e.*,
  j.customer_id,
  COALESCE(j.is_test_customer, FALSE) AS is_test_customer,
  COALESCE(j.bu, 'unmapped') AS bu,
  COALESCE(j.role, 'unmapped') AS role,
  COALESCE(j.region, 'unmapped') AS region,
  j.job_status,
  j.completed_date AS job_completed_date
FROM estimates AS e
LEFT JOIN jobs AS j ON j.job_id = e.job_id;
