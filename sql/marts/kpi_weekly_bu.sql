-- kpi_weekly_bu: one row per (week_start, bu), one column per KPI (NULL where the KPI is
-- not reported for the BU's role).
-- Sources: ${mart}.kpi_weekly.
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_weekly_bu` AS
WITH long AS (
  SELECT week_start, bu, region, kpi, value
  FROM `${project}.${mart}.kpi_weekly`
)

SELECT
  week_start,
  bu,
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
FROM long
GROUP BY week_start, bu, region;
