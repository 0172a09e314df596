-- MERGE a run's staging tables of one entity (one table, or the UNION ALL of every
-- window's table) into its raw table: one statement per entity per run.
-- Grain of the result: one row per entity key, the latest version by ${version}.
-- The staging side is deduplicated first (offset paging can repeat a record on two pages,
-- and overlapping windows repeat it across loads). The target side is pruned to the
-- batch's partition range (${prune}) only when the partition field is immutable per key
-- (createdOn; rows without a value are always matched): a business date users edit is
-- never pruned on (stkpi.registry, Entity.partition_immutable).
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
  WHERE _rn = 1
) AS S
ON ${key_match} ${prune}
WHEN MATCHED
  AND COALESCE(S.${version}, TIMESTAMP '1970-01-01 00:00:00+00')
    >= COALESCE(T.${version}, TIMESTAMP '1970-01-01 00:00:00+00')
  THEN UPDATE SET ${update_set}
WHEN NOT MATCHED THEN
  INSERT (${columns}) VALUES (${source_columns});
