-- Report: the newest reconciliation pass with ServiceTitan's reports (stkpi.reconcile).
-- Grain: one row per (kpi, bu, week_start). Sources: ${ops}.reconciliation.
-- Differences first (unexplained, then explained), then matches.
WITH latest AS (
  SELECT MAX(reconciled_at) AS reconciled_at
  FROM `${project}.${ops}.reconciliation`
)

SELECT r.run_id, r.reconciled_at, r.kpi, r.bu, r.week_start, r.ours, r.theirs, r.difference,
  r.status, r.rules, r.records, r.note
FROM `${project}.${ops}.reconciliation` AS r
INNER JOIN latest AS l ON r.reconciled_at = l.reconciled_at
ORDER BY CASE r.status WHEN 'unexplained' THEN 0 WHEN 'explained' THEN 1 ELSE 2 END,
  r.kpi, r.week_start, r.bu
