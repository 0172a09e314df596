-- Raw technicians (reference): one row per id, the latest version by modified_on.
-- Source: ServiceTitan /settings/v2/tenant/{tenant}/technicians; the whole API record is kept in payload.
-- Reference data (a few hundred rows), refreshed in full: not partitioned.
CREATE TABLE IF NOT EXISTS `${project}.${raw}.technicians` (
  id               INT64 NOT NULL,
  name             STRING,
  business_unit_id INT64,
  active           BOOL,
  modified_on      TIMESTAMP,
  payload          STRING,
  _ingested_at     TIMESTAMP,
  _run_id          STRING,
  _window_id       STRING,
  _page            INT64,
  deleted_at       TIMESTAMP
)
CLUSTER BY id;
