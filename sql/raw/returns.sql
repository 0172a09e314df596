-- Raw returns (transactional): one row per id, the latest version by modified_on.
-- Source: ServiceTitan /inventory/v2/tenant/{tenant}/returns; the whole API record is kept in payload.
-- Partitioned on return_date (immutable per key), so a MERGE can prune to a batch's range.
CREATE TABLE IF NOT EXISTS `${project}.${raw}.returns` (
  id           INT64 NOT NULL,
  job_id       INT64,
  total        NUMERIC,
  return_date  TIMESTAMP,
  modified_on  TIMESTAMP,
  payload      STRING,
  _ingested_at TIMESTAMP,
  _run_id      STRING,
  _window_id   STRING,
  _page        INT64,
  deleted_at   TIMESTAMP
)
PARTITION BY DATE(return_date)
CLUSTER BY id;
