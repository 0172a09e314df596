-- Validation join_jobs_business_units: jobs whose business unit maps to a reporting BU.
-- Rule (KPIS.md "Role gating"): the job's businessUnitId is in the business-units reference
-- and the BU's name is in the BU map the marts were built with (the tenant's, rendered as
-- ${bu_map_names}: sql/validations/bu_map_names.sql)
-- or ends with -Sales / -Production. Everything else is the bucket 'unmapped'.
-- Grain: one row per unmapped BU (bu_name NULL: id not in the reference), plus one row
-- with business_unit_id -1 carrying the totals. Sources: ${raw}.jobs, ${raw}.business_units.
WITH bus AS (
  SELECT id AS business_unit_id, TRIM(name) AS bu_name
  FROM `${project}.${raw}.business_units`
),

jobs AS (
  SELECT
    j.business_unit_id,
    b.bu_name,
    b.bu_name IS NOT NULL
    AND (
      -- COALESCE: an empty map renders as IN (NULL), which is NULL, not FALSE
      COALESCE(LOWER(b.bu_name) IN (${bu_map_names}), FALSE)
      OR LOWER(b.bu_name) LIKE '%-sales'
      OR LOWER(b.bu_name) LIKE '%-production'
    ) AS mapped
  FROM `${project}.${raw}.jobs` AS j
  LEFT JOIN bus AS b ON b.business_unit_id = j.business_unit_id
),

unmapped AS (
  SELECT business_unit_id, bu_name, COUNT(*) AS jobs
  FROM jobs
  WHERE NOT mapped
  GROUP BY business_unit_id, bu_name
),

totals AS (
  SELECT -1 AS business_unit_id, CAST(NULL AS STRING) AS bu_name, COUNT(*) AS jobs
  FROM jobs
)

SELECT business_unit_id, bu_name, jobs, FALSE AS is_total
FROM unmapped
UNION ALL
SELECT business_unit_id, bu_name, jobs, TRUE AS is_total
FROM totals
ORDER BY is_total DESC, jobs DESC
