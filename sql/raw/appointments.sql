-- Raw appointments (transactional): one row per id, the latest version by modified_on.
-- Source: ServiceTitan /jpm/v2/tenant/{tenant}/appointments; the whole API record is kept in payload.
-- Partitioned on created_on (immutable per key), so a MERGE can prune to a batch's range.
CREATE TABLE IF NOT EXISTS `${project}.${raw}.appointments` (
  id           INT64 NOT NULL,
  job_id       INT64,
  start_at     TIMESTAMP,
  end_at       TIMESTAMP,
  status       STRING,
  created_on   TIMESTAMP,
  modified_on  TIMESTAMP,
  payload      STRING,
  _ingested_at TIMESTAMP,
  _run_id      STRING,
  _window_id   STRING,
  _page        INT64,
  deleted_at   TIMESTAMP
)
PARTITION BY DATE(created_on)
CLUSTER BY id;
