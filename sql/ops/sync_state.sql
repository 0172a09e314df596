-- Ops: per-entity high-water marks, appended when a run's rebuild completes.
-- Grain: one row per entity per completed run; the current mark is MAX(high_water).
-- Daily plans start at the mark minus the entity's lookback; an entity read by its export
-- continues from the newest export_from (the feed's continueFrom token; docs/EXPORTS.md).
CREATE TABLE IF NOT EXISTS `${project}.${ops}.sync_state` (
  entity      STRING NOT NULL,
  high_water  TIMESTAMP NOT NULL,
  run_id      STRING NOT NULL,
  event_time  TIMESTAMP NOT NULL,
  export_from STRING
)
PARTITION BY DATE(event_time)
CLUSTER BY entity;
