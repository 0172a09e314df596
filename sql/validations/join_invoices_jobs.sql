-- Validation join_invoices_jobs: share of invoices linked to a job.
-- Rule (KPIS.md "Invoice -> job", same as dim_invoices): the nested job.id of a known job;
-- else job.number equal to exactly one job's jobNumber; else unlinked. Active invoices only.
-- Grain: one row. Sources: ${raw}.invoices, ${raw}.jobs (works before any dim is built).
WITH invoices AS (
  SELECT
    id,
    job_id AS ref_job_id,
    TRIM(job_number) AS ref_job_number
  FROM `${project}.${raw}.invoices`
  WHERE active IS NOT FALSE
),

jobs AS (
  SELECT DISTINCT id AS job_id
  FROM `${project}.${raw}.jobs`
),

unique_numbers AS (
  SELECT TRIM(job_number) AS job_number
  FROM `${project}.${raw}.jobs`
  WHERE job_number IS NOT NULL
  GROUP BY TRIM(job_number)
  HAVING COUNT(*) = 1
),

resolved AS (
  SELECT
    i.id,
    i.ref_job_id IS NULL AND i.ref_job_number IS NULL AS no_reference,
    by_id.job_id IS NOT NULL AS by_id,
    by_id.job_id IS NULL AND by_number.job_number IS NOT NULL AS by_number
  FROM invoices AS i
  LEFT JOIN jobs AS by_id ON by_id.job_id = i.ref_job_id
  LEFT JOIN unique_numbers AS by_number ON by_number.job_number = i.ref_job_number
)

SELECT
  COUNT(*) AS total,
  COUNTIF(by_id OR by_number) AS linked,
  COUNTIF(by_id) AS linked_by_id,
  COUNTIF(by_number) AS linked_by_number,
  COUNTIF(no_reference) AS without_reference
FROM resolved
