-- Ops view: one row per run with its plan, its rebuild and its totals.
-- Grain: one row per run_id.
CREATE OR REPLACE VIEW `${project}.${ops}.runs` AS
WITH planned AS (
  SELECT run_id, ANY_VALUE(run_type) AS run_type, ANY_VALUE(entities) AS entities,
         MAX(windows) AS windows, MIN(plan_start) AS plan_start, MAX(plan_end) AS plan_end,
         MIN(event_time) AS planned_at
  FROM `${project}.${ops}.run_events`
  WHERE state = 'planned'
  GROUP BY run_id
),
rebuilt AS (
  SELECT run_id, COUNT(*) AS rebuilds, MAX(event_time) AS rebuilt_at,
         MAX(records) AS records, MAX(duration_ms) AS rebuild_ms
  FROM `${project}.${ops}.run_events`
  WHERE state = 'rebuilt'
  GROUP BY run_id
)
SELECT p.run_id, p.run_type, p.entities, p.windows, p.plan_start, p.plan_end, p.planned_at,
       r.rebuilt_at, COALESCE(r.rebuilds, 0) AS rebuilds, r.records, r.rebuild_ms
FROM planned AS p
LEFT JOIN rebuilt AS r USING (run_id);
