-- Report: the newest validation pass (every check of the latest checked_at).
-- Grain: one row per check. Sources: ${ops}.validation_results.
WITH latest AS (
  SELECT MAX(checked_at) AS checked_at
  FROM `${project}.${ops}.validation_results`
)

SELECT v.run_id, v.checked_at, v.check_name, v.category, v.subject, v.status, v.value,
       v.numbers, v.threshold, v.message, v.next_step
FROM `${project}.${ops}.validation_results` AS v
INNER JOIN latest AS l ON v.checked_at = l.checked_at
ORDER BY v.category, v.check_name
