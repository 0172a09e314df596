-- Ops view: the latest state of every window, with its first-seen and last-seen times.
-- Grain: one row per (run_id, entity, window_id).
CREATE OR REPLACE VIEW `${project}.${ops}.windows` AS
WITH ranked AS (
  SELECT
    e.*,
    ROW_NUMBER() OVER (
      PARTITION BY run_id, entity, window_id ORDER BY event_time DESC, state DESC
    ) AS rn,
    MIN(event_time) OVER (PARTITION BY run_id, entity, window_id) AS first_seen
  FROM `${project}.${ops}.window_events` AS e
)
SELECT
  run_id, entity, window_id, window_start, window_end, state, pages, records, rows_merged,
  duration_ms, error, first_seen, event_time AS last_seen
FROM ranked
WHERE rn = 1;
