-- Validation quarantine_open: records set aside within the lookback because they could not be
-- stored (stkpi.quarantine), the latest reading of each (entity and key; a record without
-- a key is its own). Whether a good copy reached raw since is asked of raw per entity
-- (quarantine_copied.sql). Grain: one row per quarantined record. Source: ${ops}.quarantine.
SELECT
  entity, record_key, reason, run_id, window_id, window_start, window_end, scan,
  modified_on, quarantined_at
FROM `${project}.${ops}.quarantine`
WHERE quarantined_at >= TIMESTAMP(@since)
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY entity, COALESCE(record_key, CONCAT(run_id, '/', window_id, '/', raw_text))
  ORDER BY quarantined_at DESC
) = 1
ORDER BY entity, quarantined_at DESC
