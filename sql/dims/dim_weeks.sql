-- dim_weeks: one row per reporting week (seven days from the tenant's week start, in the
-- report time zone: Monday..Sunday unless the tenant's weeks start on another day).
-- Sources: ${dim}.seed_kpi_params (the week start; optional fixed range), else the dated
--   facts of the dims: job created/completed, estimate created/sold, non-Canceled
--   appointment start, invoice date, payment date. Range = earliest to latest week with data.
-- week_start = the week's first day; week_end = its last (the Sunday of a Monday week) = the
--   as-of date D of point-in-time KPIs.
-- Week maths: with s = the week start's DAYOFWEEK (Sunday = 1, Monday = 2),
-- DATE_SUB(d, INTERVAL MOD(EXTRACT(DAYOFWEEK FROM d) + 7 - s, 7) DAY) is the first day of d's
-- week (Monday: MOD(DAYOFWEEK + 5, 7)). Portable form of DATE_TRUNC(d, WEEK(<day>)), which
-- the BigQuery emulator gets wrong.
CREATE OR REPLACE TABLE `${project}.${dim}.dim_weeks` AS
WITH fact_dates AS (
  SELECT created_date AS d FROM `${project}.${dim}.dim_jobs`
  UNION ALL SELECT completed_date FROM `${project}.${dim}.dim_jobs`
  UNION ALL SELECT created_date FROM `${project}.${dim}.dim_estimates`
  UNION ALL SELECT sold_date FROM `${project}.${dim}.dim_estimates` WHERE status = 'Sold'
  UNION ALL SELECT start_date FROM `${project}.${dim}.dim_appointments`
    WHERE COALESCE(status, '') != 'Canceled'
  UNION ALL SELECT invoice_date FROM `${project}.${dim}.dim_invoices`
  UNION ALL SELECT paid_date FROM `${project}.${dim}.dim_payment_applications`
),

bounds AS (
  SELECT
    COALESCE(
      p.week_from,
      (SELECT MIN(d) FROM fact_dates)
    ) AS first_day,
    COALESCE(
      p.week_to,
      (SELECT MAX(d) FROM fact_dates)
    ) AS last_day,
    p.week_start_dow
  FROM `${project}.${dim}.seed_kpi_params` AS p
),

week_bounds AS (
  SELECT
    DATE_SUB(
      first_day, INTERVAL MOD(EXTRACT(DAYOFWEEK FROM first_day) + 7 - week_start_dow, 7) DAY
    ) AS first_week,
    DATE_SUB(
      last_day, INTERVAL MOD(EXTRACT(DAYOFWEEK FROM last_day) + 7 - week_start_dow, 7) DAY
    ) AS last_week
  FROM bounds
  WHERE first_day IS NOT NULL AND last_day IS NOT NULL
)

SELECT
  week_start,
  DATE_ADD(week_start, INTERVAL 6 DAY) AS week_end
FROM week_bounds
CROSS JOIN UNNEST(GENERATE_DATE_ARRAY(first_week, last_week, INTERVAL 7 DAY)) AS week_start;
