-- Where each entity's export feed continues: the token its newest export window ended on
-- (sync_state.export_from, recorded by the run's rebuild). Entities never read by their
-- export have no row (docs/EXPORTS.md).
SELECT entity, export_from
FROM `${project}.${ops}.sync_state`
WHERE export_from IS NOT NULL
QUALIFY ROW_NUMBER() OVER (PARTITION BY entity ORDER BY event_time DESC, high_water DESC) = 1
