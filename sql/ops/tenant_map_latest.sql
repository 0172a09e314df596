-- The latest version of one tenant's map (${table}: tenant_bu_map or tenant_report_map).
-- Query parameter: tenant_id. Grain: the rows of that version.
SELECT *
FROM `${project}.${ops}.${table}`
WHERE tenant_id = @tenant_id
QUALIFY map_version = MAX(map_version) OVER ()
