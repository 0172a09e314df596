-- Validation pipeline_failed_windows: windows whose latest state is failed or dead-lettered,
-- seen since since. Grain: one row per window. Source: ${ops}.windows (latest state view).
SELECT run_id, entity, window_id, state, error, last_seen
FROM `${project}.${ops}.windows`
WHERE state IN ('failed', 'dead_lettered')
  AND last_seen >= TIMESTAMP(@since)
ORDER BY last_seen DESC
