-- Validation kpi_business_units: the reporting BUs that must have every KPI of their role.
-- Grain: one row per (bu, role) of ${dim}.dim_business_units with a Sales/Production role.
SELECT DISTINCT bu, role
FROM `${project}.${dim}.dim_business_units`
WHERE role IN ('Sales', 'Production')
ORDER BY bu
