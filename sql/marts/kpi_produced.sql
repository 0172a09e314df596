-- kpi_produced: Dollars Produced per Production BU per week.
-- Grain: one row per (week_start, bu); every Production BU every week, 'unmapped' when
-- non-empty.
-- Sources: ${dim}.dim_jobs, ${dim}.dim_invoices, ${dim}.dim_kpi_grid, ${dim}.dim_week_days.
-- Rule: jobs completed in the week (status Completed, completedOn in the week); sum of
-- subTotal of every invoice linked to them (link by id or number, see dim_invoices),
-- whatever the invoice date, credit memos (negative) and zero-dollar invoices included. Unlinked
-- invoices count nowhere. Rounded to cents at the end.
-- Date basis: job completedOn, DATE(.., report TZ),
--   week from the tenant's week start (dim_weeks).
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_produced` AS
WITH completed_jobs AS (
  SELECT
    d.week_start,
    bu,
    job_id
  FROM `${project}.${dim}.dim_jobs`
  LEFT JOIN `${project}.${dim}.dim_week_days` AS d ON d.day = completed_date
  WHERE job_status = 'Completed'
    AND completed_date IS NOT NULL
    AND role IN ('Production', 'unmapped')
),

job_invoices AS (
  SELECT job_id, SUM(sub_total) AS produced, COUNT(*) AS invoices
  FROM `${project}.${dim}.dim_invoices`
  WHERE job_id IS NOT NULL
  GROUP BY job_id
),

weekly AS (
  SELECT
    c.week_start,
    c.bu,
    SUM(COALESCE(i.produced, 0)) AS produced,
    COUNT(*) AS completed_jobs
  FROM completed_jobs AS c
  LEFT JOIN job_invoices AS i ON i.job_id = c.job_id
  GROUP BY c.week_start, c.bu
)

SELECT
  g.week_start,
  g.bu,
  g.region,
  ROUND(COALESCE(a.produced, 0), 2) AS value,
  ROUND(COALESCE(a.produced, 0), 2) AS numerator,
  CAST(NULL AS NUMERIC) AS denominator
FROM `${project}.${dim}.dim_kpi_grid` AS g
LEFT JOIN weekly AS a ON a.week_start = g.week_start AND a.bu = g.bu
WHERE g.role = 'Production' AND (g.always_reported OR a.completed_jobs > 0);
