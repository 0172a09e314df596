-- kpi_gpm: GPM % per Production BU per week.
-- Grain: one row per (week_start, bu); every Production BU every week, 'unmapped' when
-- non-empty.
-- Sources: ${dim}.dim_jobs, ${dim}.dim_invoices, ${dim}.dim_job_labor,
--          ${dim}.dim_job_materials, ${dim}.seed_kpi_params, ${raw}.purchase_orders /
--          inventory_bills / returns (only to know whether purchasing is ingested),
--          ${dim}.dim_kpi_grid, ${dim}.dim_week_days.
-- Rule: over the jobs completed in the week, (produced - labor - materials) / produced
-- (ratio of the week's sums; NULL when produced is 0). materials_included says whether
-- materials were subtracted: seed_kpi_params.include_materials, or when NULL, whether any
-- purchasing record (PO, bill, return) is ingested; when FALSE, GPM is labor-only.
-- numerator = gross margin, denominator = produced, both rounded to cents.
-- Date basis: job completedOn, DATE(.., report TZ),
--   week from the tenant's week start (dim_weeks).
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_gpm` AS
WITH materials_switch AS (
  SELECT
    COALESCE(
      p.include_materials,
      (SELECT COUNT(*) FROM `${project}.${raw}.purchase_orders`)
      + (SELECT COUNT(*) FROM `${project}.${raw}.inventory_bills`)
      + (SELECT COUNT(*) FROM `${project}.${raw}.returns`) > 0
    ) AS materials_included
  FROM `${project}.${dim}.seed_kpi_params` AS p
),

completed_jobs AS (
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
  SELECT job_id, SUM(sub_total) AS produced
  FROM `${project}.${dim}.dim_invoices`
  WHERE job_id IS NOT NULL
  GROUP BY job_id
),

job_costs AS (
  SELECT
    c.week_start,
    c.bu,
    c.job_id,
    COALESCE(i.produced, 0) AS produced,
    COALESCE(l.labor_amount, 0) AS labor,
    IF(s.materials_included, COALESCE(m.materials_amount, 0), 0) AS materials
  FROM completed_jobs AS c
  CROSS JOIN materials_switch AS s
  LEFT JOIN job_invoices AS i ON i.job_id = c.job_id
  LEFT JOIN `${project}.${dim}.dim_job_labor` AS l ON l.job_id = c.job_id
  LEFT JOIN `${project}.${dim}.dim_job_materials` AS m ON m.job_id = c.job_id
),

weekly AS (
  SELECT
    week_start,
    bu,
    ROUND(SUM(produced), 2) AS produced,
    ROUND(SUM(labor), 2) AS labor,
    ROUND(SUM(materials), 2) AS materials,
    COUNT(*) AS completed_jobs
  FROM job_costs
  GROUP BY week_start, bu
)

SELECT
  g.week_start,
  g.bu,
  g.region,
  SAFE_DIVIDE(
    COALESCE(a.produced, 0) - COALESCE(a.labor, 0) - COALESCE(a.materials, 0),
    COALESCE(a.produced, 0)
  ) AS value,
  COALESCE(a.produced, 0) - COALESCE(a.labor, 0) - COALESCE(a.materials, 0) AS numerator,
  COALESCE(a.produced, 0) AS denominator,
  COALESCE(a.labor, 0) AS labor,
  COALESCE(a.materials, 0) AS materials,
  s.materials_included
FROM `${project}.${dim}.dim_kpi_grid` AS g
CROSS JOIN materials_switch AS s
LEFT JOIN weekly AS a ON a.week_start = g.week_start AND a.bu = g.bu
WHERE g.role = 'Production' AND (g.always_reported OR a.completed_jobs > 0);
