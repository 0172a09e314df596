-- Validation pipeline_stuck_windows: windows not loaded (nor failed) whose latest event is
-- older than stuck_before, first seen since since: a fetch or load that died silently.
-- Grain: one row per window. Source: ${ops}.windows (latest state view).
SELECT run_id, entity, window_id, state, first_seen, last_seen
FROM `${project}.${ops}.windows`
WHERE state NOT IN ('loaded', 'failed', 'dead_lettered')
  AND last_seen < TIMESTAMP(@stuck_before)
  AND first_seen >= TIMESTAMP(@since)
ORDER BY last_seen
