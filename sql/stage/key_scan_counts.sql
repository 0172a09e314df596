-- key_scan_counts: what a key scan of one entity would change in raw, counted before any
-- change, so the guard (stkpi.key_scan) can refuse a scan that would mark too much.
-- Sources: ${source} = the scan's staging tables (every key ServiceTitan served, one
-- table or their UNION ALL), `${raw}.${table}`.
-- Scope: raw rows the scan covered (${scope}: createdOn inside the scan's range; every
-- row of a reference entity). A row outside it (created after the scan's plan time by a
-- concurrent daily run) was never asked for and is never judged.
-- recently_marked: rows earlier scans marked since ${since} (the guard's rolling period),
-- so the guard judges what the scans take from the entity over time, not one scan alone.
WITH seen AS (
  SELECT DISTINCT ${key} AS k FROM ${source}
),

scoped AS (
  SELECT T.deleted_at, S.k IS NOT NULL AS was_seen
  FROM `${project}.${raw}.${table}` AS T
  LEFT JOIN seen AS S ON S.k = T.${key}
  WHERE ${scope}
)

SELECT
  (SELECT COUNT(*) FROM seen) AS keys_seen,
  COUNT(*) AS in_scope,
  COUNTIF(deleted_at IS NULL) AS live,
  COUNTIF(deleted_at IS NULL AND NOT was_seen) AS to_mark,
  COUNTIF(deleted_at IS NOT NULL AND was_seen) AS to_unmark,
  COUNTIF(deleted_at IS NOT NULL AND NOT was_seen AND deleted_at >= ${since}) AS recently_marked
FROM scoped;
