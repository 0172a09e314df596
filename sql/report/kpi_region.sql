-- Report: the last ${weeks} weeks of every KPI per region, long form.
-- Grain: one row per (week_start, region, kpi).
-- Sources: ${mart}.kpi_weekly. Same rule as kpi_weekly_region: counts and money are
-- summed over the region's BUs; ratios are recomputed from the summed numerators and
-- denominators (ratio of sums), NULL when the summed denominator is 0.
WITH last_week AS (
  SELECT MAX(week_start) AS last_start
  FROM `${project}.${mart}.kpi_weekly`
),

recent AS (
  SELECT k.*
  FROM `${project}.${mart}.kpi_weekly` AS k
  CROSS JOIN last_week AS l
  WHERE k.week_start > DATE_SUB(l.last_start, INTERVAL ${days} DAY)
)

SELECT
  week_start,
  region,
  kpi,
  MAX(kind) AS kind,
  IF(MAX(kind) = 'ratio', SAFE_DIVIDE(SUM(numerator), SUM(denominator)), SUM(value)) AS value,
  SUM(numerator) AS numerator,
  SUM(denominator) AS denominator,
  STRING_AGG(DISTINCT bu, ',') AS bus
FROM recent
GROUP BY week_start, region, kpi
ORDER BY kpi, region, week_start
