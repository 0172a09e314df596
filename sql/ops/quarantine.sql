-- Ops: records ServiceTitan sent that could not be stored (stkpi.quarantine), set aside so
-- their window and run go on: a lone UTF-16 surrogate, an integer beyond 64 bits, a number
-- beyond a double, a wrong type in a typed column, no key, a time beyond now plus the
-- tolerance. Grain: one row per record per read of it (a redelivered fetch adds another;
-- readers take the latest per entity and key). Append-only (streaming inserts from
-- fetch_window). pipeline.quarantine names the records not copied since;
-- `stkpi quarantine --replay` reads their windows again once the cause is fixed.
CREATE TABLE IF NOT EXISTS `${project}.${ops}.quarantine` (
  quarantined_at TIMESTAMP NOT NULL,
  run_id         STRING NOT NULL,
  entity         STRING NOT NULL,
  window_id      STRING NOT NULL,
  window_start   TIMESTAMP,
  window_end     TIMESTAMP,
  scan           BOOL,
  page           INT64,
  record_key     STRING,
  modified_on    STRING,
  reason         STRING NOT NULL,
  raw_text       STRING,
  raw_truncated  BOOL
)
PARTITION BY DATE(quarantined_at)
CLUSTER BY entity, record_key;
