-- Validation entity_totals: size and newest version of one raw entity.
-- Grain: one row. Source: ${raw}.${table}; newest_modified = MAX(modified_on).
SELECT
  COUNT(*) AS row_count,
  MAX(modified_on) AS newest_modified
FROM `${project}.${raw}.${table}`
