-- Raw ${table} (${kind}): one row per ${keys}, the latest version by ${version}.
-- Source: ServiceTitan ${path}; the whole API record is kept in payload.
-- ${storage}
CREATE TABLE IF NOT EXISTS `${project}.${raw}.${table}` (
${columns}
)
${partition}CLUSTER BY ${keys};
