-- Ops: append-only log of window state changes (planned, fetched, continued, loaded, failed).
-- Grain: one row per state change of one window of one run. Append-only on purpose: many
-- functions write at once, and inserts never conflict where UPDATEs of one row would.
-- The `windows` view reads the latest state per window.
CREATE TABLE IF NOT EXISTS `${project}.${ops}.window_events` (
  run_id       STRING NOT NULL,
  entity       STRING NOT NULL,
  window_id    STRING NOT NULL,
  window_start TIMESTAMP,
  window_end   TIMESTAMP,
  state        STRING NOT NULL,
  pages        INT64,
  records      INT64,
  rows_merged  INT64,
  duration_ms  INT64,
  error        STRING,
  detail       STRING,
  event_time   TIMESTAMP NOT NULL
)
PARTITION BY DATE(event_time)
CLUSTER BY run_id, entity;
