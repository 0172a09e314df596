-- deletes_weekly: rows of one raw table marked deleted, per week of the mark.
-- Source: `${raw}.${table}` (deleted_at, set only by the key scan).
-- Date basis: DATE(deleted_at, report TZ), weeks starting Monday (the portable form:
-- the emulator gets DATE_TRUNC(.., WEEK(MONDAY)) wrong, docs/EMULATOR_GAPS.md).
WITH marks AS (
  SELECT DATE(deleted_at, '${report_tz}') AS d
  FROM `${project}.${raw}.${table}`
  WHERE deleted_at IS NOT NULL
    AND deleted_at >= TIMESTAMP(@since)
)

SELECT
  DATE_SUB(d, INTERVAL MOD(EXTRACT(DAYOFWEEK FROM d) + 5, 7) DAY) AS week_start,
  COUNT(*) AS deleted
FROM marks
GROUP BY week_start
ORDER BY week_start;
