-- Row count of one table (the demo's summary of what the pipeline built).
SELECT COUNT(*) AS n FROM `${table_ref}`
