-- Keys of the rows the key scan marked deleted in one raw table (chaos checks: the marks
-- must be exactly the records deleted in the simulator).
SELECT CAST(${key} AS STRING) AS k
FROM `${project}.${raw}.${table}`
WHERE deleted_at IS NOT NULL
