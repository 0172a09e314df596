-- Key and modifiedOn of every row of one raw table, one row per state (live, or marked
-- deleted by the key scan): compared key for key with the source by chaos runs and
-- integration tests. The pairs come packed in one string per state, "key micros" entries
-- (microseconds since the epoch, "-" for none) joined by commas, because ~150,000 rows of
-- JSON through the REST API cost seconds per entity after every chaos scenario; `n` lets
-- the reader check that it unpacked every row.
SELECT
  deleted_at IS NOT NULL AS deleted,
  COUNT(*) AS n,
  STRING_AGG(
    CONCAT(
      COALESCE(CAST(${key} AS STRING), 'NULL'), ' ',
      COALESCE(CAST(UNIX_MICROS(modified_on) AS STRING), '-')
    ),
    ','
  ) AS versions
FROM `${project}.${raw}.${table}`
GROUP BY deleted
