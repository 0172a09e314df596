-- Raw activity_codes (reference): one row per id, the latest version by modified_on.
-- Source: ServiceTitan /payroll/v2/tenant/{tenant}/activity-codes; the whole API record is kept in payload.
-- Reference data (a few hundred rows), refreshed in full: not partitioned.
CREATE TABLE IF NOT EXISTS `${project}.${raw}.activity_codes` (
  id           INT64 NOT NULL,
  code         STRING,
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
