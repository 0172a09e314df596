-- Validation coverage_monthly: rows per month of one raw entity, for the month-over-month check.
-- Grain: one row per calendar month (report TZ '${report_tz}') that has rows, from month_from.
-- Source: ${raw}.${table}; date basis: ${date_column} (the entity's immutable date).
-- Read: a month far below its neighbours is a gap in the sync (re-run a backfill for it).
WITH dated AS (
  SELECT DATE(${date_column}, '${report_tz}') AS day
  FROM `${project}.${raw}.${table}`
  WHERE ${date_column} >= TIMESTAMP(CAST(@month_from AS DATE))
)

SELECT
  DATE_SUB(day, INTERVAL EXTRACT(DAY FROM day) - 1 DAY) AS month,
  COUNT(*) AS row_count
FROM dated
GROUP BY month
ORDER BY month
