-- Report: windows, records, pages and fetch/load time per entity of the newest runs.
-- Grain: one row per (run_id, entity). Sources: ${ops}.windows, ${ops}.runs, and
-- ${ops}.run_events for rows merged (one MERGE per entity per run: state entity_merged).
WITH recent AS (
  SELECT run_id, planned_at
  FROM `${project}.${ops}.runs`
  ORDER BY planned_at DESC
  LIMIT ${limit}
),

merged AS (
  SELECT e.run_id, e.entities AS entity, SUM(COALESCE(e.records, 0)) AS rows_merged
  FROM `${project}.${ops}.run_events` AS e
  INNER JOIN recent AS r ON e.run_id = r.run_id
  WHERE e.state = 'entity_merged'
  GROUP BY e.run_id, e.entities
)

SELECT
  w.run_id,
  w.entity,
  COUNT(*) AS windows,
  COUNTIF(w.state = 'loaded') AS loaded,
  COUNTIF(w.state IN ('failed', 'dead_lettered')) AS failed,
  SUM(COALESCE(w.records, 0)) AS records,
  SUM(COALESCE(w.pages, 0)) AS pages,
  -- windows stage; the entity MERGE counts (window rows_merged is kept for older runs)
  SUM(COALESCE(w.rows_merged, 0)) + ANY_VALUE(COALESCE(m.rows_merged, 0)) AS rows_merged,
  SUM(COALESCE(w.duration_ms, 0)) AS duration_ms
FROM `${project}.${ops}.windows` AS w
INNER JOIN recent AS r ON w.run_id = r.run_id
LEFT JOIN merged AS m ON w.run_id = m.run_id AND w.entity = m.entity
GROUP BY w.run_id, w.entity
ORDER BY w.run_id, w.entity
