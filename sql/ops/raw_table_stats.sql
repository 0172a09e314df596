-- Rows and newest modifiedOn of one raw table, tagged with its entity: `stkpi status` (lag =
-- now - newest) and the report's freshness panel. stkpi.table_stats runs this file for every
-- raw table as one UNION ALL, one query job instead of one per entity.
-- Grain: one row. Source: ${raw}.${table}.
SELECT '${entity}' AS entity, COUNT(*) AS row_count, MAX(modified_on) AS newest
FROM `${project}.${raw}.${table}`
