-- Report: the current high-water mark of every entity and the run that set it.
-- Grain: one row per entity. Sources: ${ops}.sync_state.
SELECT entity, MAX(high_water) AS high_water, MAX(event_time) AS synced_at
FROM `${project}.${ops}.sync_state`
GROUP BY entity
