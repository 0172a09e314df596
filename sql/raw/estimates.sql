-- Raw estimates (transactional): one row per id, the latest version by modified_on.
-- Source: ServiceTitan /sales/v2/tenant/{tenant}/estimates; the whole API record is kept in payload.
-- Partitioned on created_on (immutable per key), so a MERGE can prune to a batch's range.
CREATE TABLE IF NOT EXISTS `${project}.${raw}.estimates` (
  id           INT64 NOT NULL,
  job_id       INT64,
  status       STRING,
  sold_on      TIMESTAMP,
  sold_by      INT64,
  subtotal     NUMERIC,
  total        NUMERIC,
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
