-- The allowance in force for one entity's key scan (ops/delete_allowances.sql): the latest
-- granted one that has not expired when the scan decides. Grain: at most one row.
SELECT max_share, granted_at, expires_at, granted_by, reason
FROM `${project}.${ops}.delete_allowances`
WHERE entity = @entity
  AND granted_at <= TIMESTAMP(@at)
  AND expires_at > TIMESTAMP(@at)
ORDER BY granted_at DESC
LIMIT 1
