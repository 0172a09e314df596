-- Validation pipeline_runs_without_rebuild: runs planned between since and planned_before
-- that never rebuilt, or rebuilt more than once (invariant 4: exactly one rebuild per run).
-- Grain: one row per offending run. Source: ${ops}.runs.
SELECT run_id, run_type, windows, planned_at, rebuilds
FROM `${project}.${ops}.runs`
WHERE planned_at >= TIMESTAMP(@since)
  AND ((rebuilds = 0 AND planned_at < TIMESTAMP(@planned_before)) OR rebuilds > 1)
ORDER BY planned_at
