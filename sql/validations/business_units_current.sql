-- The tenant's business units as last copied from ServiceTitan (raw, deletes left out),
-- for the check kpi.bu_map: each must be in the tenant's BU map, or named so that KPIS.md's
-- rule gives its role (-Sales / -Production). Grain: one row per business unit.
SELECT id AS bu_id, TRIM(name) AS bu_name, active
FROM `${project}.${raw}.business_units`
WHERE deleted_at IS NULL
ORDER BY bu_name
