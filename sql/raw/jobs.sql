-- Raw jobs (transactional): one row per id, the latest version by modified_on.
-- Source: ServiceTitan /jpm/v2/tenant/{tenant}/jobs; the whole API record is kept in payload.
-- Partitioned on created_on (immutable per key), so a MERGE can prune to a batch's range.
CREATE TABLE IF NOT EXISTS `${project}.${raw}.jobs` (
  id               INT64 NOT NULL,
  number           STRING,
  customer_id      INT64,
  location_id      INT64,
  business_unit_id INT64,
  job_type_id      INT64,
  job_status       STRING,
  completed_on     TIMESTAMP,
  campaign_id      INT64,
  sold_by_id       INT64,
  total            NUMERIC,
  created_on       TIMESTAMP,
  modified_on      TIMESTAMP,
  payload          STRING,
  _ingested_at     TIMESTAMP,
  _run_id          STRING,
  _window_id       STRING,
  _page            INT64,
  deleted_at       TIMESTAMP
)
PARTITION BY DATE(created_on)
CLUSTER BY id;
