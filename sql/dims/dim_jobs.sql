-- dim_jobs: one row per job, with everything the KPIs attribute through the job.
-- Sources: ${raw}.jobs, ${raw}.customers, ${raw}.job_types, ${dim}.dim_business_units,
--          ${dim}.seed_job_type_patterns, ${dim}.seed_kpi_params.
-- BU: job.businessUnitId -> dim_business_units; an id missing from the reference (or NULL)
--     is the bucket 'unmapped'.
-- Test customer: the customer's name contains seed_kpi_params.test_customer_pattern
--     ('test'), case-insensitive plain substring.
-- Job-type flags: the job type's name contains any seed pattern of the kind
--     ('estimate' / 'warranty'), case-insensitive plain substring.
-- Date basis: created_date / completed_date = DATE(ts, report TZ '${report_tz}').
CREATE OR REPLACE TABLE `${project}.${dim}.dim_jobs` AS
WITH params AS (
  SELECT LOWER(test_customer_pattern) AS test_pattern
  FROM `${project}.${dim}.seed_kpi_params`
),

jobs AS (
  SELECT
    id AS job_id,
    TRIM(job_number) AS job_number,
    customer_id,
    business_unit_id,
    job_type_id,
    job_status,
    created_on,
    completed_on
  FROM `${project}.${raw}.jobs`
),

customers AS (
  SELECT
    c.id AS customer_id,
    c.name AS customer_name,
    COALESCE(STRPOS(LOWER(c.name), p.test_pattern) > 0, FALSE) AS is_test_customer
  FROM `${project}.${raw}.customers` AS c
  CROSS JOIN params AS p
  -- deleted customers are kept on purpose: a job outlives its customer in ServiceTitan,
  -- and still needs its name and test-customer flag (a deleted test customer's jobs
  -- must not start counting)
),

job_types AS (
  SELECT
    jt.id AS job_type_id,
    jt.name AS job_type_name,
    EXISTS (
      SELECT 1
      FROM `${project}.${dim}.seed_job_type_patterns` AS p
      WHERE p.kind = 'estimate' AND STRPOS(LOWER(jt.name), LOWER(p.pattern)) > 0
    ) AS is_estimate_type,
    EXISTS (
      SELECT 1
      FROM `${project}.${dim}.seed_job_type_patterns` AS p
      WHERE p.kind = 'warranty' AND STRPOS(LOWER(jt.name), LOWER(p.pattern)) > 0
    ) AS is_warranty_type
  FROM `${project}.${raw}.job_types` AS jt
),

business_units AS (
  SELECT business_unit_id, bu_name, bu, role, region
  FROM `${project}.${dim}.dim_business_units`
)

SELECT
  j.job_id,
  j.job_number,
  j.customer_id,
  c.customer_name,
  COALESCE(c.is_test_customer, FALSE) AS is_test_customer,
  j.business_unit_id,
  b.bu_name,
  COALESCE(b.bu, 'unmapped') AS bu,
  COALESCE(b.role, 'unmapped') AS role,
  COALESCE(b.region, 'unmapped') AS region,
  j.job_type_id,
  t.job_type_name,
  COALESCE(t.is_estimate_type, FALSE) AS is_estimate_type,
  COALESCE(t.is_warranty_type, FALSE) AS is_warranty_type,
  j.job_status,
  j.created_on,
  DATE(j.created_on, '${report_tz}') AS created_date,
  j.completed_on,
  DATE(j.completed_on, '${report_tz}') AS completed_date
FROM jobs AS j
LEFT JOIN customers AS c ON c.customer_id = j.customer_id
LEFT JOIN job_types AS t ON t.job_type_id = j.job_type_id
LEFT JOIN business_units AS b ON b.business_unit_id = j.business_unit_id;
