-- MERGE a run's staging tables of one entity (one table, or the UNION ALL of every
-- window's table) into its raw table: one statement per entity per run and partition slice.
-- Grain of the result: one row per entity key, the latest version by ${version}.
-- The staging side is deduplicated first (offset paging can repeat a record on two pages,
-- and overlapping windows repeat it across loads), then cut to this statement's slice of
-- partitions (${slice}): BigQuery refuses a statement that writes more than 4,000
-- partitions, so a batch spanning more (a long backfill, a key scan) is merged a slice at
-- a time (stkpi.warehouse). The target side is pruned to the slice (${prune}) only when
-- the partition field is immutable per key (createdOn; rows without a value are always
-- matched): a business date users edit is never pruned on (Entity.partition_immutable).
-- Only rows whose version changed are written: an unchanged row (a key scan re-reads every
-- record) is left alone, so its partition is not rewritten. A row without a version is
-- replaced only by a version, or by a different record without one.
-- Re-running this statement changes nothing: it is idempotent.
MERGE `${project}.${raw}.${table}` AS T
USING (
  SELECT ${columns}
  FROM (
    SELECT
      S.*,
      ROW_NUMBER() OVER (
        PARTITION BY ${keys} ORDER BY ${version} DESC, _page DESC, _ingested_at DESC
      ) AS _rn
    FROM ${source} AS S
  ) AS D
  WHERE _rn = 1 AND ${slice}
) AS S
ON ${key_match} ${prune}
WHEN MATCHED AND (
  COALESCE(S.${version}, TIMESTAMP '1970-01-01 00:00:00+00')
    > COALESCE(T.${version}, TIMESTAMP '1970-01-01 00:00:00+00')
  OR (S.${version} IS NULL AND T.${version} IS NULL AND S.payload != T.payload)
)
  THEN UPDATE SET ${update_set}
WHEN NOT MATCHED THEN
  INSERT (${columns}) VALUES (${source_columns});
