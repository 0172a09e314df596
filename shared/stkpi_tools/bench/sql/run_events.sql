-- Benchmark: every run event of one run (rebuilt, and entity_merged when the pipeline
-- records its MERGEs per entity); stkpi_tools.bench.figures reads the merge and rebuild stages.
SELECT state, entities, windows, records, duration_ms, detail, event_time
FROM `${project}.${ops}.run_events`
WHERE run_id = @run_id
