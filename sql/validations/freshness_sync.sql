-- Validation freshness_sync: the last successful sync of every entity.
-- Grain: one row per entity that has ever completed a run (sync_state is appended when a
-- run's rebuild completes). Source: ${ops}.sync_state.
SELECT
  entity,
  MAX(event_time) AS last_sync,
  MAX(high_water) AS high_water
FROM `${project}.${ops}.sync_state`
GROUP BY entity
