-- Ops: per-entity high-water marks, appended when a run's rebuild completes.
-- Grain: one row per entity per completed run; the current mark is MAX(high_water).
-- Daily plans start at the mark minus the entity's lookback.
CREATE TABLE IF NOT EXISTS `${project}.${ops}.sync_state` (
  entity     STRING NOT NULL,
  high_water TIMESTAMP NOT NULL,
  run_id     STRING NOT NULL,
  event_time TIMESTAMP NOT NULL
)
PARTITION BY DATE(event_time)
CLUSTER BY entity;
