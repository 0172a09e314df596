-- Validation volume_daily: records created on the check day and on the same weekday of the
-- weeks before it (the volume-drop check compares the day with their median).
-- Grain: one row per such day that has records (missing days count 0).
-- Source: ${raw}.${table}; date basis: DATE(${date_column}, report TZ '${report_tz}').
WITH dated AS (
  SELECT DATE(${date_column}, '${report_tz}') AS day
  FROM `${project}.${raw}.${table}`
  WHERE ${date_column} >= TIMESTAMP(DATE_SUB(CAST(@first_day AS DATE), INTERVAL 1 DAY))
    AND ${date_column} < TIMESTAMP(DATE_ADD(CAST(@check_day AS DATE), INTERVAL 2 DAY))
)

SELECT day, COUNT(*) AS row_count
FROM dated
WHERE day BETWEEN CAST(@first_day AS DATE) AND CAST(@check_day AS DATE)
  AND MOD(DATE_DIFF(CAST(@check_day AS DATE), day, DAY), 7) = 0
GROUP BY day
ORDER BY day
