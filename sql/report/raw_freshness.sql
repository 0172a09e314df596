-- Report: rows and newest modifiedOn of one raw table (data freshness of one entity).
-- Grain: one row. Sources: ${raw}.${table}.
SELECT COUNT(*) AS row_count, MAX(modified_on) AS newest
FROM `${project}.${raw}.${table}`
