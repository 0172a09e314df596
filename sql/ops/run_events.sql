-- Ops: append-only log of run state changes (planned, rebuild_started, rebuilt, failed).
-- Grain: one row per state change of one run. `rebuilt` appears at most once per run:
-- that row is what "exactly one rebuild per run" is checked against.
CREATE TABLE IF NOT EXISTS `${project}.${ops}.run_events` (
  run_id      STRING NOT NULL,
  run_type    STRING,
  state       STRING NOT NULL,
  entities    STRING,
  windows     INT64,
  records     INT64,
  plan_start  TIMESTAMP,
  plan_end    TIMESTAMP,
  duration_ms INT64,
  detail      STRING,
  event_time  TIMESTAMP NOT NULL
)
PARTITION BY DATE(event_time)
CLUSTER BY run_id;
