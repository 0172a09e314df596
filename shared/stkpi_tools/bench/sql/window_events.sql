-- Benchmark: every window event of one run; stkpi_tools.bench.figures keeps the latest per
-- window and state (a redelivered window counts once) and sums them per stage.
SELECT entity, window_id, state, pages, records, rows_merged, duration_ms, detail,
       event_time
FROM `${project}.${ops}.window_events`
WHERE run_id = @run_id
