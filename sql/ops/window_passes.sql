-- The most read passes any window of one run needed (a window that changed while it was
-- paged is read again; see stkpi/fetch.py).
SELECT MAX(CAST(JSON_VALUE(detail, '$$.passes') AS INT64)) AS max_passes
FROM `${project}.${ops}.window_events`
WHERE run_id = @run_id AND state = 'fetched'
