-- Benchmark: per stage of one run (fetch, load), its windows, records, busy time and wall
-- span; load splits into the load job and the MERGE. Latest event per window and state, so
-- a redelivered window counts once.
WITH ev AS (
  SELECT state, records, duration_ms, event_time, detail,
         ROW_NUMBER() OVER (PARTITION BY entity, window_id, state ORDER BY event_time DESC) AS rn
  FROM `${project}.${ops}.window_events`
  WHERE run_id = @run_id AND state IN ('fetched', 'loaded')
)
SELECT IF(state = 'loaded', 'load', 'fetch') AS stage,
       COUNT(*) AS windows,
       SUM(records) AS records,
       COUNTIF(state = 'loaded' AND records > 0) AS load_jobs,
       SUM(duration_ms) AS busy_ms,
       SUM(SAFE_CAST(JSON_VALUE(detail, '$$.load_ms') AS INT64)) AS load_ms,
       SUM(SAFE_CAST(JSON_VALUE(detail, '$$.merge_ms') AS INT64)) AS merge_ms,
       MIN(TIMESTAMP_SUB(event_time, INTERVAL duration_ms MILLISECOND)) AS first_start,
       MAX(event_time) AS last_end
FROM ev
WHERE rn = 1
GROUP BY stage
