-- Ops: the operator's allowances to mark more deleted than the delete guard lets a key scan
-- mark (stkpi.key_scan), written by `stkpi deletes --allow-share` with the operator's own
-- credentials. A plan message cannot raise the guard: whoever may publish a plan (the
-- scheduler, a replay) may not write here. Grain: one row per allowance; the latest one of
-- an entity that has not expired applies. Append-only.
CREATE TABLE IF NOT EXISTS `${project}.${ops}.delete_allowances` (
  entity     STRING NOT NULL,
  max_share  FLOAT64 NOT NULL,
  granted_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  granted_by STRING,
  reason     STRING
)
PARTITION BY DATE(granted_at)
CLUSTER BY entity;
