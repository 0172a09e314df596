-- Raw gross_pay_items (transactional): one row per item_key, the latest version by modified_on.
-- Source: ServiceTitan /payroll/v2/tenant/{tenant}/gross-pay-items; the whole API record is kept in payload.
-- Partitioned on item_date (immutable per key), so a MERGE can prune to a batch's range.
CREATE TABLE IF NOT EXISTS `${project}.${raw}.gross_pay_items` (
  item_key            STRING NOT NULL,
  employee_id         INT64,
  payroll_id          INT64,
  item_date           TIMESTAMP,
  activity            STRING,
  amount              NUMERIC,
  paid_duration_hours NUMERIC,
  source_entity_id    INT64,
  source_entity_type  STRING,
  job_id              INT64,
  invoice_id          INT64,
  modified_on         TIMESTAMP,
  payload             STRING,
  _ingested_at        TIMESTAMP,
  _run_id             STRING,
  _window_id          STRING,
  _page               INT64,
  deleted_at          TIMESTAMP
)
PARTITION BY DATE(item_date)
CLUSTER BY item_key;
