-- Validation quarantine_copied: for quarantined keys of one entity (${keys}), when raw last
-- received a copy of each (a later good version, or the one from before the bad one).
-- Grain: one row per key raw holds. Source: ${raw}.${table}.
SELECT CAST(${key} AS STRING) AS record_key, MAX(_ingested_at) AS copied_at
FROM `${project}.${raw}.${table}`
WHERE CAST(${key} AS STRING) IN (${keys})
GROUP BY record_key
