-- Key and modifiedOn of every row of one raw table, and whether the key scan marked it
-- deleted: compared key for key with the source by chaos runs and integration tests.
SELECT CAST(${key} AS STRING) AS k, modified_on, deleted_at IS NOT NULL AS deleted
FROM `${project}.${raw}.${table}`
