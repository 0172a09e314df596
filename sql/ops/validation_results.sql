-- Ops: results of `stkpi validate` and of the validations rebuild_dims runs after each run.
-- Grain: one row per check per validation pass (run_id = the pipeline run, or 'adhoc').
-- numbers / threshold are JSON strings; status is GREEN | YELLOW | RED.
CREATE TABLE IF NOT EXISTS `${project}.${ops}.validation_results` (
  run_id     STRING NOT NULL,
  checked_at TIMESTAMP NOT NULL,
  check_name STRING NOT NULL,
  category   STRING NOT NULL,
  subject    STRING,
  status     STRING NOT NULL,
  value      FLOAT64,
  numbers    STRING,
  threshold  STRING,
  message    STRING,
  next_step  STRING
)
PARTITION BY DATE(checked_at)
CLUSTER BY check_name;
