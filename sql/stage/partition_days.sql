-- The partitions a staging batch (a table, or the UNION ALL of a run's window tables)
-- writes to: one row per day of ${partition_field} (NULL for rows without one), so the
-- raw MERGE can be cut into slices of at most BigQuery's 4,000 partitions a statement
-- (stkpi.warehouse) and prune the raw table to each slice.
SELECT DATE(${partition_field}) AS day, COUNT(*) AS row_count
FROM ${source}
GROUP BY day
ORDER BY day
