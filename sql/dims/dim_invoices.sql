-- dim_invoices: one row per invoice with its job link resolved.
-- Sources: ${raw}.invoices (job_id / job_number from the nested job: {id, number} | null;
--          ServiceTitan's spec has no top-level jobId or jobNumber), ${dim}.dim_jobs.
-- Link (KPIS.md "Invoice -> job"), recorded in link_method:
--   'id'       job.id present and a known job
--   'number'   else job.number equal to exactly one job's jobNumber
--   'unlinked' else; bu / role / region are then 'unlinked'.
-- The invoice's own businessUnit is not used: bu / role / region are the job's.
-- Inactive invoices (active = FALSE: ServiceTitan's soft delete) are left out, as the
-- invoices the key scan marks deleted would be (docs/KPI_RULES.md, "Inactive records").
-- Date basis: invoice_date = DATE(invoiceDate, report TZ '${report_tz}').
CREATE OR REPLACE TABLE `${project}.${dim}.dim_invoices` AS
WITH invoices AS (
  SELECT
    id AS invoice_id,
    reference_number AS invoice_number,
    invoice_date AS invoice_at,
    DATE(invoice_date, '${report_tz}') AS invoice_date,
    sub_total,
    total,
    balance,
    job_id AS ref_job_id,
    TRIM(job_number) AS ref_job_number
  FROM `${project}.${raw}.invoices`
  WHERE active IS NOT FALSE
),

jobs AS (
  SELECT job_id, job_number, bu, role, region
  FROM `${project}.${dim}.dim_jobs`
),

unique_job_numbers AS (
  SELECT job_number, MIN(job_id) AS job_id
  FROM jobs
  WHERE job_number IS NOT NULL
  GROUP BY job_number
  HAVING COUNT(*) = 1
),

resolved AS (
  SELECT
    i.*,
    COALESCE(by_id.job_id, by_number.job_id) AS job_id,
    CASE
      WHEN by_id.job_id IS NOT NULL THEN 'id'
      WHEN by_number.job_id IS NOT NULL THEN 'number'
      ELSE 'unlinked'
    END AS link_method
  FROM invoices AS i
  LEFT JOIN jobs AS by_id ON by_id.job_id = i.ref_job_id
  LEFT JOIN unique_job_numbers AS by_number ON by_number.job_number = i.ref_job_number
)

SELECT
  r.invoice_id,
  r.invoice_number,
  r.invoice_at,
  r.invoice_date,
  r.sub_total,
  r.total,
  r.balance,
  r.ref_job_id,
  r.ref_job_number,
  r.job_id,
  r.link_method,
  COALESCE(j.bu, 'unlinked') AS bu,
  COALESCE(j.role, 'unlinked') AS role,
  COALESCE(j.region, 'unlinked') AS region
FROM resolved AS r
LEFT JOIN jobs AS j ON j.job_id = r.job_id;
