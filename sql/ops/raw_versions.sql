-- Key and modifiedOn of every row of one raw table: compared key for key with the source
-- by chaos runs and integration tests.
SELECT CAST(${key} AS STRING) AS k, modified_on
FROM `${project}.${raw}.${table}`
