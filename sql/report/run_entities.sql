-- Report: windows, records, pages and fetch/load time per entity of the newest runs.
-- Grain: one row per (run_id, entity). Sources: ${ops}.windows, ${ops}.runs.
WITH recent AS (
  SELECT run_id, planned_at
  FROM `${project}.${ops}.runs`
  ORDER BY planned_at DESC
  LIMIT ${limit}
)

SELECT
  w.run_id,
  w.entity,
  COUNT(*) AS windows,
  COUNTIF(w.state = 'loaded') AS loaded,
  COUNTIF(w.state IN ('failed', 'dead_lettered')) AS failed,
  SUM(COALESCE(w.records, 0)) AS records,
  SUM(COALESCE(w.pages, 0)) AS pages,
  SUM(COALESCE(w.rows_merged, 0)) AS rows_merged,
  SUM(COALESCE(w.duration_ms, 0)) AS duration_ms
FROM `${project}.${ops}.windows` AS w
INNER JOIN recent AS r ON w.run_id = r.run_id
GROUP BY w.run_id, w.entity
ORDER BY w.run_id, w.entity
