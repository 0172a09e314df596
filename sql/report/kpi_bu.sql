-- Report: the last ${weeks} weeks of every KPI per BU, long form.
-- Grain: one row per (week_start, bu, kpi), exactly the rows of ${mart}.kpi_weekly.
-- Sources: ${mart}.kpi_weekly. The window ends at the newest week in the table.
WITH last_week AS (
  SELECT MAX(week_start) AS last_start
  FROM `${project}.${mart}.kpi_weekly`
)

SELECT k.week_start, k.bu, k.region, k.kpi, k.kind, k.value, k.numerator, k.denominator
FROM `${project}.${mart}.kpi_weekly` AS k
CROSS JOIN last_week AS l
WHERE k.week_start > DATE_SUB(l.last_start, INTERVAL ${days} DAY)
ORDER BY k.kpi, k.bu, k.week_start
