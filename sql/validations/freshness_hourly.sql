-- Validation freshness_hourly: when in the week one raw entity usually changes.
-- Grain: one row per hour of the week that had versions in the ${hours} hours up to the
-- entity's newest modified_on; hour_of_week = epoch hours mod 168 (UTC, no time zone to
-- agree on: stkpi.validation.judges.freshness buckets the silence the same way).
-- Source: ${raw}.${table}, the same span as freshness_gaps.
-- Read: the freshness check's chance test: how many changes the hours since the newest
-- one would usually have brought, so a small tenant's quiet Friday night and weekend is
-- not read as a stopped sync while a busy tenant's silent afternoon is.
WITH newest AS (
  SELECT MAX(modified_on) AS newest_modified
  FROM `${project}.${raw}.${table}`
)

SELECT
  MOD(DIV(UNIX_SECONDS(r.modified_on), 3600), 168) AS hour_of_week,
  COUNT(*) AS records
FROM `${project}.${raw}.${table}` AS r
CROSS JOIN newest AS n
WHERE r.modified_on > TIMESTAMP_SUB(n.newest_modified, INTERVAL ${hours} HOUR)
GROUP BY hour_of_week
