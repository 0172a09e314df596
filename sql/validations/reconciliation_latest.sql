-- reconciliation_latest: the cells of the latest reconciliation pass with ServiceTitan's
-- reports (${ops}.reconciliation), judged by stkpi.reconcile.judge.
-- Grain: one row per (kpi, bu, week_start) of the newest reconciled_at.
WITH latest AS (
  SELECT MAX(reconciled_at) AS at FROM `${project}.${ops}.reconciliation`
)
SELECT r.run_id, r.kpi, r.bu, r.week_start, r.ours, r.theirs, r.difference, r.status, r.rules
FROM `${project}.${ops}.reconciliation` AS r
INNER JOIN latest AS l ON r.reconciled_at = l.at
ORDER BY r.kpi, r.week_start, r.bu;
