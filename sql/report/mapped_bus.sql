-- Report: the reporting names of the business units the marts were built with: the
-- tenant's BU map as the last rebuild wrote it (stkpi.tenant_maps -> seed_bu_map).
-- Grain: one row per mapped business unit.
SELECT normalized_name
FROM `${project}.${dim}.seed_bu_map`
