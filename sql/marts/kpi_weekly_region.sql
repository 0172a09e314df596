-- kpi_weekly_region: one row per (week_start, region), one column per KPI.
-- Sources: ${mart}.kpi_weekly; kpi_columns: one column per KPI of the registry (stkpi.kpis).
-- Rule: counts and money are summed over the region's BUs; ratios are recomputed from the
-- summed numerators and denominators (ratio of sums), never averaged. NULL when the
-- summed denominator is 0. Buckets 'unmapped' / 'unlinked' are their own regions.
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_weekly_region` AS
WITH region_long AS (
  SELECT
    week_start,
    region,
    kpi,
    IF(
      MAX(kind) = 'ratio',
      SAFE_DIVIDE(SUM(numerator), SUM(denominator)),
      SUM(value)
    ) AS value
  FROM `${project}.${mart}.kpi_weekly`
  GROUP BY week_start, region, kpi
)

SELECT
  week_start,
  region,
${kpi_columns}
FROM region_long
GROUP BY week_start, region;
