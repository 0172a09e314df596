-- mark_deleted: apply a key scan of one entity to raw (stkpi.key_scan), after its guard.
-- Sources: ${source} = the scan's staging tables; target `${raw}.${table}`.
-- Soft delete: a live row in scope whose key the scan did not see gets deleted_at = the
-- scan's plan time (rendered from the stored plan); the row stays. A deleted row whose key the scan saw
-- again is undeleted. Both statements are idempotent (a redelivery changes nothing more),
-- and they are the only writers of deleted_at: the raw MERGE never names the column.
UPDATE `${project}.${raw}.${table}` AS T
SET deleted_at = ${scanned_at}
WHERE T.deleted_at IS NULL
  AND ${scope}
  AND T.${key} NOT IN (SELECT ${key} FROM ${source});

UPDATE `${project}.${raw}.${table}` AS T
SET deleted_at = NULL
WHERE T.deleted_at IS NOT NULL
  AND ${scope}
  AND T.${key} IN (SELECT ${key} FROM ${source});
