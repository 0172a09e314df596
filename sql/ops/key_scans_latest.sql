-- key_scans_latest: the latest key scan of each entity (`stkpi status`, the deletes
-- validation). Source: ${ops}.run_events, state 'keys_scanned' (one event per entity per
-- scan, written by stkpi.key_scan; a redelivery may repeat one: the latest wins).
-- Grain: one row per entity ever scanned; detail is the scan's JSON counts.
WITH scans AS (
  SELECT
    entities AS entity,
    run_id,
    event_time,
    records AS marked,
    detail,
    ROW_NUMBER() OVER (PARTITION BY entities ORDER BY event_time DESC) AS rn
  FROM `${project}.${ops}.run_events`
  WHERE state = 'keys_scanned'
)

SELECT entity, run_id, event_time, marked, detail
FROM scans
WHERE rn = 1
ORDER BY entity;
