-- kpi_weekly: every KPI in one long table for dashboards.
-- Grain: one row per (week_start, bu, kpi), exactly the rows of the kpi_<name> tables.
-- Sources: ${mart}.kpi_<name> (one per KPI; each file documents its rule and date basis).
-- kind: 'count' | 'money' | 'ratio'; ratios carry numerator and denominator so rollups
-- recompute them as ratios of sums (kpi_weekly_region), never averages.
-- Ratio KPIs are listed first: the emulator types a UNION by its first branch.
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_weekly` AS
WITH long AS (
  SELECT week_start, bu, region, 'success_rate' AS kpi, 'ratio' AS kind, value,
    CAST(numerator AS NUMERIC) AS numerator, CAST(denominator AS NUMERIC) AS denominator
  FROM `${project}.${mart}.kpi_success_rate`
  UNION ALL
  SELECT week_start, bu, region, 'gpm', 'ratio', value, numerator, denominator
  FROM `${project}.${mart}.kpi_gpm`
  UNION ALL
  SELECT week_start, bu, region, 'warranty_pct', 'ratio', value,
    CAST(numerator AS NUMERIC), CAST(denominator AS NUMERIC)
  FROM `${project}.${mart}.kpi_warranty_pct`
  UNION ALL
  SELECT week_start, bu, region, 'leads', 'count', CAST(value AS NUMERIC),
    CAST(numerator AS NUMERIC), CAST(denominator AS NUMERIC)
  FROM `${project}.${mart}.kpi_leads`
  UNION ALL
  SELECT week_start, bu, region, 'estimates', 'count', CAST(value AS NUMERIC),
    CAST(numerator AS NUMERIC), CAST(denominator AS NUMERIC)
  FROM `${project}.${mart}.kpi_estimates`
  UNION ALL
  SELECT week_start, bu, region, 'estimates_scheduled', 'count', CAST(value AS NUMERIC),
    CAST(numerator AS NUMERIC), CAST(denominator AS NUMERIC)
  FROM `${project}.${mart}.kpi_estimates_scheduled`
  UNION ALL
  SELECT week_start, bu, region, 'total_booked', 'money', value, numerator, denominator
  FROM `${project}.${mart}.kpi_total_booked`
  UNION ALL
  SELECT week_start, bu, region, 'produced', 'money', value, numerator, denominator
  FROM `${project}.${mart}.kpi_produced`
  UNION ALL
  SELECT week_start, bu, region, 'future_bookings', 'money', value, numerator, denominator
  FROM `${project}.${mart}.kpi_future_bookings`
  UNION ALL
  SELECT week_start, bu, region, 'collected', 'money', value, numerator, denominator
  FROM `${project}.${mart}.kpi_collected`
  UNION ALL
  SELECT week_start, bu, region, 'outstanding_ar', 'money', value, numerator, denominator
  FROM `${project}.${mart}.kpi_outstanding_ar`
)

SELECT week_start, bu, region, kpi, kind, value, numerator, denominator
FROM long;
