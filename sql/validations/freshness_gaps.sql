-- Validation freshness_gaps: how long one raw entity usually goes without a change.
-- Grain: one total row (is_total: the versions in the ${hours} hours up to the newest
-- modified_on), then one row per gap of at least ${min_gap_hours} hours between two
-- consecutive modified_on values in that span (shorter gaps cannot decide an hours-long
-- threshold, and a busy entity has millions of them).
-- Source: ${raw}.${table}; the span ends at the entity's newest version, not now, so an
-- entity that stopped weeks ago is measured while it was still arriving.
-- Read: validate.usual_silence_hours turns the gaps into the age the data stayed under
-- 95% of the time; the freshness check allows a multiple of it.
WITH newest AS (
  SELECT MAX(modified_on) AS newest_modified
  FROM `${project}.${raw}.${table}`
),

recent AS (
  SELECT r.modified_on
  FROM `${project}.${raw}.${table}` AS r
  CROSS JOIN newest AS n
  WHERE r.modified_on > TIMESTAMP_SUB(n.newest_modified, INTERVAL ${hours} HOUR)
),

gaps AS (
  SELECT
    TIMESTAMP_DIFF(
      modified_on, LAG(modified_on) OVER (ORDER BY modified_on), SECOND
    ) / 3600.0 AS gap_hours
  FROM recent
)

SELECT TRUE AS is_total, COUNT(*) AS records, CAST(NULL AS FLOAT64) AS gap_hours
FROM recent
UNION ALL
SELECT FALSE AS is_total, CAST(NULL AS INT64) AS records, gap_hours
FROM gaps
WHERE gap_hours >= ${min_gap_hours}
