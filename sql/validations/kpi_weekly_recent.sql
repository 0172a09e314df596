-- Validation kpi_weekly_recent: the KPI rows of the checked weeks, for presence, range and
-- week-over-week checks. Grain: one row per (week_start, bu, kpi) of ${mart}.kpi_weekly with
-- week_start in [week_from, week_to] (Mondays). bu 'unlinked' / 'unmapped' are buckets.
SELECT week_start, bu, region, kpi, kind,
  CAST(value AS FLOAT64) AS value,
  CAST(numerator AS FLOAT64) AS numerator,
  CAST(denominator AS FLOAT64) AS denominator
FROM `${project}.${mart}.kpi_weekly`
WHERE week_start BETWEEN CAST(@week_from AS DATE) AND CAST(@week_to AS DATE)
ORDER BY bu, kpi, week_start
