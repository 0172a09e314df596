-- Loads of one run that found their load job already created by another delivery (the
-- deterministic job id at work): evidence that twin deliveries loaded and MERGEd at once.
SELECT COUNTIF(JSON_VALUE(detail, '$$.reused_load_job') = 'true') AS n
FROM `${project}.${ops}.window_events`
WHERE run_id = @run_id AND state = 'loaded'
