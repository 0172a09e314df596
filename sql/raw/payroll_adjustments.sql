-- Raw payroll_adjustments (transactional): one row per id, the latest version by modified_on.
-- Source: ServiceTitan /payroll/v2/tenant/{tenant}/payroll-adjustments; the whole API record is kept in payload.
-- Partitioned on posted_on (immutable per key), so a MERGE can prune to a batch's range.
CREATE TABLE IF NOT EXISTS `${project}.${raw}.payroll_adjustments` (
  id           INT64 NOT NULL,
  employee_id  INT64,
  posted_on    TIMESTAMP,
  amount       NUMERIC,
  job_id       INT64,
  invoice_id   INT64,
  memo         STRING,
  modified_on  TIMESTAMP,
  payload      STRING,
  _ingested_at TIMESTAMP,
  _run_id      STRING,
  _window_id   STRING,
  _page        INT64,
  deleted_at   TIMESTAMP
)
PARTITION BY DATE(posted_on)
CLUSTER BY id;
