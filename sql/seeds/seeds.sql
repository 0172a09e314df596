-- Seeds: configuration as data, written from stkpi.kpi_config.KpiConfig by stkpi.marts.
-- seed_bu_map           one row per ST business-unit name (sql/seeds/bu_map.csv):
--                       normalized name, role (Sales|Production), region rollup.
-- seed_job_type_patterns one row per (kind, pattern): a job type is of `kind`
--                       ('estimate' | 'warranty') when its name contains `pattern`
--                       (plain case-insensitive substring).
-- seed_kpi_params       exactly one row: test-customer substring, the day weeks start on
--                       (the tenant's weeks_start, and its BigQuery DAYOFWEEK number:
--                       Sunday = 1, Monday = 2), optional fixed week range (days weeks
--                       start on), materials switch for GPM (NULL = auto: included when any
--                       purchasing record is ingested), whether materials keep their tax
--                       (ServiceTitan's "Tax Expenses In Costing", on by default).
CREATE OR REPLACE TABLE `${project}.${dim}.seed_bu_map` AS
SELECT *
FROM UNNEST(ARRAY<STRUCT<bu_name STRING, normalized_name STRING, role STRING, region STRING>>[
  ${bu_map_rows}
]);

CREATE OR REPLACE TABLE `${project}.${dim}.seed_job_type_patterns` AS
SELECT *
FROM UNNEST(ARRAY<STRUCT<kind STRING, pattern STRING>>[
  ${job_type_pattern_rows}
]);

CREATE OR REPLACE TABLE `${project}.${dim}.seed_kpi_params` AS
SELECT
  ${test_customer_pattern} AS test_customer_pattern,
  ${week_start_day} AS week_start,
  ${week_start_dow} AS week_start_dow,
  CAST(${week_from} AS DATE) AS week_from,
  CAST(${week_to} AS DATE) AS week_to,
  CAST(${include_materials} AS BOOL) AS include_materials,
  CAST(${materials_include_tax} AS BOOL) AS materials_include_tax;
