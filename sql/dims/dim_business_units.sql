-- dim_business_units: one row per business unit in the ST business-units reference.
-- Sources: ${raw}.business_units (active=Any), ${dim}.seed_bu_map (sql/seeds/bu_map.csv).
-- Rules (KPIS.md "Business units", "Role gating"):
--   listed in the map      -> the map's normalized name, role and region    (mapped_by 'map')
--   not listed, name ends with -Sales / -Production
--                          -> bu = its name, role = the suffix, region = text before it
--                                                                          (mapped_by 'suffix')
--   neither                -> bu, role and region 'unmapped'               (mapped_by 'unmapped')
-- A BU id that is not in this table at all is 'unmapped' too (see dim_jobs).
-- Date basis: none (reference data, current values).
CREATE OR REPLACE TABLE `${project}.${dim}.dim_business_units` AS
WITH reference AS (
  SELECT
    id AS business_unit_id,
    TRIM(name) AS bu_name,
    active
  FROM `${project}.${raw}.business_units`
  -- a BU deleted in ServiceTitan is no longer reported; its jobs become 'unmapped',
  -- which validation (join.jobs_business_units) lists by id
  WHERE deleted_at IS NULL
),

mapped AS (
  SELECT
    r.business_unit_id,
    r.bu_name,
    r.active,
    m.normalized_name AS map_bu,
    m.role AS map_role,
    m.region AS map_region
  FROM reference AS r
  LEFT JOIN `${project}.${dim}.seed_bu_map` AS m
    ON LOWER(TRIM(m.bu_name)) = LOWER(r.bu_name)
),

with_suffix AS (
  SELECT
    *,
    CASE
      WHEN LOWER(bu_name) LIKE '%-sales' THEN 'Sales'
      WHEN LOWER(bu_name) LIKE '%-production' THEN 'Production'
    END AS suffix_role,
    CASE
      WHEN LOWER(bu_name) LIKE '%-sales' THEN TRIM(SUBSTR(bu_name, 1, LENGTH(bu_name) - 6))
      WHEN LOWER(bu_name) LIKE '%-production' THEN TRIM(SUBSTR(bu_name, 1, LENGTH(bu_name) - 11))
    END AS suffix_region
  FROM mapped
)

SELECT
  business_unit_id,
  bu_name,
  active,
  CASE
    WHEN map_role IS NOT NULL THEN map_bu
    WHEN suffix_role IS NOT NULL THEN bu_name
    ELSE 'unmapped'
  END AS bu,
  COALESCE(map_role, suffix_role, 'unmapped') AS role,
  CASE
    WHEN map_role IS NOT NULL THEN map_region
    WHEN suffix_role IS NOT NULL THEN suffix_region
    ELSE 'unmapped'
  END AS region,
  CASE
    WHEN map_role IS NOT NULL THEN 'map'
    WHEN suffix_role IS NOT NULL THEN 'suffix'
    ELSE 'unmapped'
  END AS mapped_by
FROM with_suffix;
