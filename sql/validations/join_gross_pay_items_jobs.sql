-- Validation join_gross_pay_items_jobs: share of job-related payroll gross-pay items linked to
-- a job (KPIS.md "GPM links": by jobId, or without it by invoiceId through the invoice's job).
-- Grain: one row. Sources: ${raw}.gross_pay_items, ${raw}.invoices, ${raw}.jobs.
-- Items with neither jobId nor invoiceId (time off, training) are not job labor: they are
-- counted in without_reference and left out of total.
WITH jobs AS (
  SELECT DISTINCT id AS job_id
  FROM `${project}.${raw}.jobs`
),

invoice_jobs AS (
  SELECT
    i.id AS invoice_id,
    j.job_id
  FROM `${project}.${raw}.invoices` AS i
  INNER JOIN jobs AS j
    ON j.job_id = i.job_id  -- the invoice's nested job.id
),

items AS (
  SELECT
    g.job_id,
    g.invoice_id,
    COALESCE(j.job_id, ij.job_id) AS resolved_job_id
  FROM `${project}.${raw}.gross_pay_items` AS g
  LEFT JOIN jobs AS j ON j.job_id = g.job_id
  -- Hashable equality (see dims/dim_job_labor.sql): the invoice only without a job.
  LEFT JOIN invoice_jobs AS ij ON ij.invoice_id = IF(g.job_id IS NULL, g.invoice_id, NULL)
)

SELECT
  COUNTIF(job_id IS NOT NULL OR invoice_id IS NOT NULL) AS total,
  COUNTIF(resolved_job_id IS NOT NULL) AS linked,
  COUNTIF(job_id IS NULL AND invoice_id IS NULL) AS without_reference
FROM items
