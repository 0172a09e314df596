"""Each entity's raw table DDL, rendered from the entity registry: no entity has a DDL file.

One template, ``sql/raw/create_table.sql``, holds the shape every raw table shares; the
registry row fills in the rest: the typed columns (the key ones ``NOT NULL``), the audit
columns every raw table adds (``stkpi.rows``: lineage, then ``deleted_at``), the
partitioning on the entity's immutable date (none for reference data) and the clustering on
its key. The header comments become the table's description. ``warehouse.ensure_tables``
runs the rendered statement; ``scripts/gen_terraform_schemas.py`` turns the same text into
Terraform's ``terraform/schemas/raw/<name>.json``, so the emulator and a deploy create the
same tables from one declaration.
"""

from __future__ import annotations

from string import Template

from stkpi import sqlfiles
from stkpi.config import Settings
from stkpi.registry import Entity
from stkpi.rows import LINEAGE_COLUMNS, RAW_ONLY_COLUMNS

TEMPLATE = "raw/create_table.sql"
_PARTITIONED = (
    "Partitioned on {field} (immutable per key), so a MERGE can prune to a batch's range."
)
_PARTITIONED_MUTABLE = (
    "Partitioned on {field}, a date users edit: a MERGE never prunes on it (a record whose "
    "date moved would be missed and inserted twice)."
)
_REFERENCE = "Reference data (a few hundred rows), refreshed in full: not partitioned."


def columns(entity: Entity) -> list[tuple[str, str, bool]]:
    """(name, BigQuery type, required) of every raw column, in table order."""
    typed = [(c.name, c.type, c.name in entity.key) for c in entity.columns]
    audit = [(name, type_, False) for name, type_ in (*LINEAGE_COLUMNS, *RAW_ONLY_COLUMNS)]
    return typed + audit


def ddl_params(entity: Entity) -> dict[str, str]:
    """The template's entity placeholders for ``entity``."""
    cols = columns(entity)
    width = max(len(name) for name, _, _ in cols)
    lines = [
        f"  {name.ljust(width)} {type_}{' NOT NULL' if required else ''}"
        for name, type_, required in cols
    ]
    field = entity.partition_field
    return {
        "table": entity.raw_table,
        "kind": entity.kind,
        "keys": ", ".join(entity.key),
        "version": entity.version_column,
        "path": entity.path("{tenant}"),
        "storage": _storage(entity),
        "columns": ",\n".join(lines),
        "partition": f"PARTITION BY DATE({field})\n" if field else "",
    }


def _storage(entity: Entity) -> str:
    field = entity.partition_field
    if not field:
        return _REFERENCE
    text = _PARTITIONED if entity.partition_immutable else _PARTITIONED_MUTABLE
    return text.format(field=field)


def ddl_text(entity: Entity) -> str:
    """The DDL with the dataset placeholders kept (``${project}``, ``${raw}``), as the
    Terraform schema generator reads it."""
    text = (sqlfiles.sql_dir() / TEMPLATE).read_text()
    return Template(text).substitute(project="${project}", raw="${raw}", **ddl_params(entity))


def render(entity: Entity, settings: Settings) -> str:
    """The DDL of ``entity``'s raw table for ``settings``' project and datasets."""
    return sqlfiles.render(TEMPLATE, settings, **ddl_params(entity))
