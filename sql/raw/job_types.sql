-- Raw job_types (reference): one row per id, the latest version by modified_on.
-- Source: ServiceTitan /jpm/v2/tenant/{tenant}/job-types; the whole API record is kept in payload.
-- Reference data (a few hundred rows), refreshed in full: not partitioned.
CREATE TABLE IF NOT EXISTS `${project}.${raw}.job_types` (
  id           INT64 NOT NULL,
  name         STRING,
  active       BOOL,
  modified_on  TIMESTAMP,
  payload      STRING,
  _ingested_at TIMESTAMP,
  _run_id      STRING,
  _window_id   STRING,
  _page        INT64,
  deleted_at   TIMESTAMP
)
CLUSTER BY id;
