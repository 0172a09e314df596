-- Validation coverage_monthly: rows per month of one raw entity, for the month-over-month check.
-- Grain: one row per calendar month (report TZ '${report_tz}') that has rows, from month_from.
-- Source: ${raw}.${table}; date basis: ${date_column} (the entity's immutable date), as a
-- local date: month_from's first day starts at local midnight, not UTC's (a UTC bound
-- would add the last hours of the month before as a month of a few rows).
-- Read: a month far below its neighbours is a gap in the sync (re-run a backfill for it).
WITH dated AS (
  SELECT DATE(${date_column}, '${report_tz}') AS day
  FROM `${project}.${raw}.${table}`
  -- a day early in UTC, so partition pruning keeps every local day of month_from
  WHERE ${date_column} >= TIMESTAMP(DATE_SUB(CAST(@month_from AS DATE), INTERVAL 1 DAY))
)

SELECT
  DATE_SUB(day, INTERVAL EXTRACT(DAY FROM day) - 1 DAY) AS month,
  COUNT(*) AS row_count
FROM dated
WHERE day >= CAST(@month_from AS DATE)
GROUP BY month
ORDER BY month
