-- The business units of the BU map the marts were last built with (the tenant's map, as
-- rebuild_dims wrote it to the dim's seed table; stkpi.tenant_maps). Read by the check
-- join.jobs_business_units. Grain: one row per mapped business unit.
SELECT bu_name
FROM `${project}.${dim}.seed_bu_map`
