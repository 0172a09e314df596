-- Run events of one run counted by state: chaos runs check that a run was rebuilt
-- exactly once however often its rebuild started.
SELECT state, COUNT(*) AS n
FROM `${project}.${ops}.run_events`
WHERE run_id = @run_id
GROUP BY state
