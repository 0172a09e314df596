-- Validation join_invoices_jobs: share of invoices linked to a job.
-- Rule (KPIS.md "Invoice -> job", same as dim_invoices): job.id (or top-level jobId) of a
-- known job; else job.number (or jobNumber) equal to exactly one job's number; else unlinked.
-- Grain: one row. Sources: ${raw}.invoices, ${raw}.jobs (works before any dim is built).
WITH invoices AS (
  SELECT
    id,
    COALESCE(
      job_id,
      SAFE_CAST(JSON_VALUE(payload, '$$.job.id') AS INT64),
      SAFE_CAST(JSON_VALUE(payload, '$$.jobId') AS INT64)
    ) AS ref_job_id,
    TRIM(COALESCE(
      job_number, JSON_VALUE(payload, '$$.job.number'), JSON_VALUE(payload, '$$.jobNumber')
    )) AS ref_job_number
  FROM `${project}.${raw}.invoices`
),

jobs AS (
  SELECT DISTINCT id AS job_id
  FROM `${project}.${raw}.jobs`
),

unique_numbers AS (
  SELECT TRIM(number) AS job_number
  FROM `${project}.${raw}.jobs`
  WHERE number IS NOT NULL
  GROUP BY TRIM(number)
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
