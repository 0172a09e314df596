-- Report: the newest failed or dead-lettered windows with their error.
-- Grain: one row per window. Sources: ${ops}.windows.
SELECT run_id, entity, window_id, window_start, window_end, state, error, last_seen
FROM `${project}.${ops}.windows`
WHERE state IN ('failed', 'dead_lettered')
ORDER BY last_seen DESC
LIMIT ${limit}
