-- Current high-water mark per entity: the end of the newest completed run's window.
SELECT entity, MAX(high_water) AS high_water
FROM `${project}.${ops}.sync_state`
GROUP BY entity
