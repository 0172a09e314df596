-- Validation raw_duplicate_keys: the keys of one raw table that hold more than one row,
-- which the raw invariant forbids (one row per key, the latest version: DESIGN.md). Run
-- only for a table whose row count exceeds its distinct keys (sql/ops/raw_table_stats.sql),
-- to name the records. Grain: one row per duplicated key, the most doubled first.
-- Source: ${raw}.${table}.
SELECT
  CAST(${key} AS STRING) AS record_key,
  COUNT(*) AS copies,
  MIN(modified_on) AS oldest_version,
  MAX(modified_on) AS newest_version
FROM `${project}.${raw}.${table}`
GROUP BY record_key
HAVING COUNT(*) > 1
ORDER BY copies DESC, record_key
LIMIT 20
