-- Raw purchase_orders (transactional): one row per id, the latest version by modified_on.
-- Source: ServiceTitan /inventory/v2/tenant/{tenant}/purchase-orders; the whole API record is kept in payload.
-- Partitioned on po_date (immutable per key), so a MERGE can prune to a batch's range.
CREATE TABLE IF NOT EXISTS `${project}.${raw}.purchase_orders` (
  id           INT64 NOT NULL,
  job_id       INT64,
  total        NUMERIC,
  po_date      TIMESTAMP,
  status       STRING,
  modified_on  TIMESTAMP,
  payload      STRING,
  _ingested_at TIMESTAMP,
  _run_id      STRING,
  _window_id   STRING,
  _page        INT64,
  deleted_at   TIMESTAMP
)
PARTITION BY DATE(po_date)
CLUSTER BY id;
