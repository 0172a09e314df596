-- Raw invoices (transactional): one row per id, the latest version by modified_on.
-- Source: ServiceTitan /accounting/v2/tenant/{tenant}/invoices; the whole API record is kept in payload.
-- Partitioned on created_on (immutable per key), so a MERGE can prune to a batch's range.
CREATE TABLE IF NOT EXISTS `${project}.${raw}.invoices` (
  id               INT64 NOT NULL,
  number           STRING,
  invoice_date     TIMESTAMP,
  sub_total        NUMERIC,
  total            NUMERIC,
  balance          NUMERIC,
  job_id           INT64,
  job_number       STRING,
  business_unit_id INT64,
  customer_id      INT64,
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
