-- kpi_weekly_bu: one row per (week_start, bu), one column per KPI (NULL where the KPI is
-- not reported for the BU's role).
-- Sources: ${mart}.kpi_weekly; kpi_columns: one column per KPI of the registry (stkpi.kpis).
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_weekly_bu` AS
WITH long AS (
  SELECT week_start, bu, region, kpi, value
  FROM `${project}.${mart}.kpi_weekly`
)

SELECT
  week_start,
  bu,
  region,
${kpi_columns}
FROM long
GROUP BY week_start, bu, region;
