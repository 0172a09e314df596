-- Validation join_appointments_jobs: share of appointments whose jobId is a job we have.
-- Grain: one row. Sources: ${raw}.appointments, ${raw}.jobs. A missing jobId counts as unlinked.
WITH jobs AS (
  SELECT DISTINCT id AS job_id
  FROM `${project}.${raw}.jobs`
)

SELECT
  COUNT(*) AS total,
  COUNTIF(j.job_id IS NOT NULL) AS linked,
  COUNTIF(r.job_id IS NULL) AS without_reference
FROM `${project}.${raw}.appointments` AS r
LEFT JOIN jobs AS j ON j.job_id = r.job_id
