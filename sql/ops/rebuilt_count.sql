-- How many `rebuilt` events a run has (0 or 1): checked under the rebuild lease so the
-- event is recorded exactly once however often the rebuild message arrives.
SELECT COUNT(*) AS n
FROM `${project}.${ops}.run_events`
WHERE run_id = @run_id AND state = 'rebuilt'
