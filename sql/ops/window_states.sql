-- Window state changes of one run, counted by state (fetched, continued, loaded, failed).
SELECT state, COUNT(*) AS n
FROM `${project}.${ops}.window_events`
WHERE run_id = @run_id
GROUP BY state
