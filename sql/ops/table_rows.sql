-- Row count of one table, tagged with its place in the list: the counts a rebuild reports
-- and the demo's summary. stkpi.table_stats.row_counts runs this file for every table as
-- one UNION ALL, one query job instead of one per table.
SELECT ${i} AS i, COUNT(*) AS n FROM `${table_ref}`
