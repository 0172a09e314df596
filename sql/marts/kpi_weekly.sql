-- kpi_weekly: every KPI in one long table for dashboards.
-- Grain: one row per (week_start, bu, kpi), exactly the rows of the kpi_<name> tables.
-- Sources: ${mart}.kpi_<name>, one per KPI of the registry (stkpi.kpis; it renders the
-- union as kpi_union); each mart file documents its rule and date basis.
-- kind: 'count' | 'money' | 'ratio'; ratios carry numerator and denominator so rollups
-- recompute them as ratios of sums (kpi_weekly_region), never averages.
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_weekly` AS
WITH long AS (
${kpi_union}
)

SELECT week_start, bu, region, kpi, kind, value, numerator, denominator
FROM long;
