-- Report: the newest ${limit} runs with their windows by latest state and their durations.
-- Grain: one row per run. Sources: ${ops}.runs, ${ops}.windows.
-- duration_s: plan to rebuild (NULL while the run is not rebuilt).
WITH states AS (
  SELECT
    run_id,
    COUNT(*) AS windows_seen,
    COUNTIF(state = 'loaded') AS loaded,
    COUNTIF(state IN ('failed', 'dead_lettered')) AS failed,
    SUM(COALESCE(records, 0)) AS window_records
  FROM `${project}.${ops}.windows`
  GROUP BY run_id
)

SELECT
  r.run_id, r.run_type, r.entities, r.windows, r.plan_start, r.plan_end, r.planned_at,
  r.rebuilt_at, r.rebuilds, r.records, r.rebuild_ms,
  COALESCE(s.loaded, 0) AS loaded, COALESCE(s.failed, 0) AS failed,
  COALESCE(s.window_records, 0) AS window_records,
  TIMESTAMP_DIFF(r.rebuilt_at, r.planned_at, SECOND) AS duration_s
FROM `${project}.${ops}.runs` AS r
LEFT JOIN states AS s USING (run_id)
ORDER BY r.planned_at DESC
LIMIT ${limit}
