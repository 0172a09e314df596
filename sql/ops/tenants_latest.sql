-- The registry's tenants: the latest version of each (stkpi.tenants).
-- Grain: one row per tenant_id.
SELECT *
FROM `${project}.${ops}.tenants`
QUALIFY ROW_NUMBER() OVER (PARTITION BY tenant_id ORDER BY version DESC) = 1
ORDER BY tenant_id
