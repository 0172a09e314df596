-- kpi_weekly_region: one row per (week_start, region), one column per KPI.
-- Sources: ${mart}.kpi_weekly.
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
  MAX(IF(kpi = 'leads', value, NULL)) AS leads,
  MAX(IF(kpi = 'estimates', value, NULL)) AS estimates,
  MAX(IF(kpi = 'total_booked', value, NULL)) AS total_booked,
  MAX(IF(kpi = 'success_rate', value, NULL)) AS success_rate,
  MAX(IF(kpi = 'estimates_scheduled', value, NULL)) AS estimates_scheduled,
  MAX(IF(kpi = 'produced', value, NULL)) AS produced,
  MAX(IF(kpi = 'gpm', value, NULL)) AS gpm,
  MAX(IF(kpi = 'future_bookings', value, NULL)) AS future_bookings,
  MAX(IF(kpi = 'collected', value, NULL)) AS collected,
  MAX(IF(kpi = 'warranty_pct', value, NULL)) AS warranty_pct,
  MAX(IF(kpi = 'outstanding_ar', value, NULL)) AS outstanding_ar
FROM region_long
GROUP BY week_start, region;
