-- Run events of one run with their durations (the benchmark's rebuild stage).
SELECT state, duration_ms, event_time
FROM `${project}.${ops}.run_events`
WHERE run_id = @run_id
ORDER BY event_time
