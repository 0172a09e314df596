-- Status: the newest runs with their windows by latest state.
-- Grain: one row per run (newest 20 by plan time).
WITH states AS (
  SELECT run_id, COUNTIF(state = 'loaded') AS loaded,
         COUNTIF(state IN ('failed', 'dead_lettered')) AS failed
  FROM `${project}.${ops}.windows`
  GROUP BY run_id
)
SELECT r.run_id, r.run_type, r.windows, COALESCE(s.loaded, 0) AS loaded,
       COALESCE(s.failed, 0) AS failed, r.rebuilt_at, r.rebuilds, r.records, r.planned_at
FROM `${project}.${ops}.runs` AS r
LEFT JOIN states AS s USING (run_id)
ORDER BY r.planned_at DESC
LIMIT 20
