-- dim_appointments: one row per appointment, attributed to its job's BU.
-- Rows marked deleted by the key scan (deleted_at) and inactive ones (active = FALSE,
-- ServiceTitan's soft delete; docs/KPI_RULES.md "Inactive records") are left out.
-- Sources: ${raw}.appointments, ${dim}.dim_jobs.
-- An appointment whose job is unknown is in the bucket 'unmapped'.
-- Date basis: start_date = DATE(start, report TZ '${report_tz}').
CREATE OR REPLACE TABLE `${project}.${dim}.dim_appointments` AS
WITH appointments AS (
  SELECT
    id AS appointment_id,
    job_id,
    status,
    start_at,
    DATE(start_at, '${report_tz}') AS start_date
  FROM `${project}.${raw}.appointments`
  WHERE deleted_at IS NULL  -- hard-deleted in ServiceTitan (stkpi.key_scan)
    AND active IS NOT FALSE
),

jobs AS (
  SELECT job_id, is_test_customer, is_estimate_type, bu, role, region
  FROM `${project}.${dim}.dim_jobs`
)

SELECT
  a.*,
  COALESCE(j.is_estimate_type, FALSE) AS is_estimate_type,
  COALESCE(j.is_test_customer, FALSE) AS is_test_customer,
  COALESCE(j.bu, 'unmapped') AS bu,
  COALESCE(j.role, 'unmapped') AS role,
  COALESCE(j.region, 'unmapped') AS region
FROM appointments AS a
LEFT JOIN jobs AS j ON j.job_id = a.job_id;
