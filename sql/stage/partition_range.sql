-- The partition range a staging batch (a table, or the UNION ALL of a run's window tables)
-- touches, so the MERGE can prune the raw table.
-- nulls > 0 means some rows have no partition value: the MERGE must not prune then.
SELECT
  MIN(DATE(${partition_field})) AS lo,
  MAX(DATE(${partition_field})) AS hi,
  COUNTIF(${partition_field} IS NULL) AS nulls
FROM ${source};
