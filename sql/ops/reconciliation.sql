-- Ops: our weekly KPIs reconciled with ServiceTitan's own reports (stkpi.reconcile), by the
-- daily rebuild and by `stkpi reconcile`. Grain: one row per (kpi, bu, week) per pass.
-- ours / theirs / difference (= ours - theirs); status is match | explained | unexplained;
-- rules lists the named rules that explain the differing records; records is a JSON list of
-- the records on one side only or with a different amount (ids, dates, amounts, rule).
CREATE TABLE IF NOT EXISTS `${project}.${ops}.reconciliation` (
  run_id        STRING NOT NULL,
  reconciled_at TIMESTAMP NOT NULL,
  tenant_id     STRING NOT NULL,
  week_start    DATE NOT NULL,
  bu            STRING NOT NULL,
  kpi           STRING NOT NULL,
  ours          FLOAT64,
  theirs        FLOAT64,
  difference    FLOAT64,
  status        STRING NOT NULL,
  rules         STRING,
  records       STRING,
  note          STRING
)
PARTITION BY DATE(reconciled_at)
CLUSTER BY kpi, bu;
