-- Rows, distinct keys and newest modifiedOn of one raw table, tagged with its entity:
-- `stkpi status` (lag = now - newest), the report's freshness panel, and the validation
-- pipeline.duplicate_keys (rows > keys breaks the one-row-per-key invariant). stkpi.table_stats
-- runs this file for every raw table as one UNION ALL, one query job instead of one per entity.
-- Grain: one row. Source: ${raw}.${table}.
SELECT
  '${entity}' AS entity,
  COUNT(*) AS row_count,
  COUNT(DISTINCT ${key}) AS key_count,
  MAX(modified_on) AS newest
FROM `${project}.${raw}.${table}`
