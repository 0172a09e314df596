-- Status: rows and newest version of one raw table (lag = now - newest modifiedOn).
SELECT COUNT(*) AS row_count, MAX(modified_on) AS newest
FROM `${project}.${raw}.${table}`
