-- kpi_future_bookings: Future Bookings per Production BU, as of each week's last day.
-- Grain: one row per (week_start, bu); every Production BU every week, 'unmapped' when
-- non-empty.
-- Sources: ${dim}.dim_estimates, ${dim}.dim_jobs, ${dim}.dim_appointments,
--          ${dim}.dim_kpi_grid, ${dim}.dim_weeks.
-- Rule: as of D = week_end: sum of subtotal of estimates with status Sold (now) and
-- soldOn <= D, on jobs that are not Canceled (now), not completed on or before D, and have
-- a non-Canceled appointment starting after D. Rounded to cents at the end.
-- Date basis: as-of date D = week_end (the week's last local day);
--   soldOn, completedOn, start as local dates.
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_future_bookings` AS
WITH weeks AS (
  SELECT week_start, week_end FROM `${project}.${dim}.dim_weeks`
),

sold_estimates AS (
  SELECT estimate_id, job_id, sold_date, subtotal, bu
  FROM `${project}.${dim}.dim_estimates`
  WHERE status = 'Sold'
    AND sold_date IS NOT NULL
    AND role IN ('Production', 'unmapped')
),

jobs AS (
  SELECT job_id, job_status, completed_date
  FROM `${project}.${dim}.dim_jobs`
),

live_appointments AS (
  SELECT job_id, start_date
  FROM `${project}.${dim}.dim_appointments`
  WHERE COALESCE(status, '') != 'Canceled'
    AND start_date IS NOT NULL
),

-- "A live appointment starting after D" holds exactly while D is before the job's last
-- live appointment: one date per job instead of every (week, appointment) pair.
last_visits AS (
  SELECT job_id, MAX(start_date) AS last_start
  FROM live_appointments
  GROUP BY job_id
),

-- Each estimate counts for the as-of dates D with sold_date <= D < open_until: before its
-- job's last live visit and before the job was completed.
open_estimates AS (
  SELECT
    e.estimate_id,
    e.bu,
    e.subtotal,
    e.sold_date,
    IF(j.completed_date IS NULL, v.last_start, LEAST(v.last_start, j.completed_date)) AS open_until
  FROM sold_estimates AS e
  INNER JOIN jobs AS j ON j.job_id = e.job_id
  INNER JOIN last_visits AS v ON v.job_id = e.job_id
  WHERE COALESCE(j.job_status, '') != 'Canceled'
),

as_of AS (
  SELECT w.week_start, e.bu, e.estimate_id, e.subtotal
  FROM open_estimates AS e
  INNER JOIN weeks AS w ON w.week_end >= e.sold_date AND w.week_end < e.open_until
),

weekly AS (
  SELECT week_start, bu, SUM(subtotal) AS booked, COUNT(*) AS estimates
  FROM as_of
  GROUP BY week_start, bu
)

SELECT
  g.week_start,
  g.bu,
  g.region,
  ROUND(COALESCE(a.booked, 0), 2) AS value,
  ROUND(COALESCE(a.booked, 0), 2) AS numerator,
  CAST(NULL AS NUMERIC) AS denominator
FROM `${project}.${dim}.dim_kpi_grid` AS g
LEFT JOIN weekly AS a ON a.week_start = g.week_start AND a.bu = g.bu
WHERE g.role = 'Production' AND (g.always_reported OR a.estimates > 0);
