"""Row counts of many tables, and rows and newest ``modifiedOn`` of every raw table, each
in one query job.

A rebuild counts the 25 tables it built, the report (after every rebuild) and ``stkpi
status`` read every raw table, the demo counts every table: a job per table was that many
round trips, each parsed and planned on its own.
When a raw table is missing (an entity not ingested yet) the one query fails as a whole:
then each table is read on its own, so the others still answer and the missing one says
why.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from google.cloud import bigquery

from stkpi import sqlfiles
from stkpi.config import Settings
from stkpi.registry import ENTITIES, Entity


def row_counts(client: bigquery.Client, settings: Settings, tables: list[str]) -> dict[str, int]:
    """Rows of each of ``tables`` (``project.dataset.table``), in their order."""
    sql = _union(
        sqlfiles.render("ops/table_rows.sql", settings, i=str(i), table_ref=t).strip()
        for i, t in enumerate(tables)
    )
    by_index = {int(r["i"]): int(r["n"]) for r in client.query_and_wait(sql)} if tables else {}
    return {t: by_index[i] for i, t in enumerate(tables)}


class RawStats(NamedTuple):
    rows: int
    newest: datetime | None
    keys: int | None = None  # distinct keys: fewer than rows means a key holds two rows


def raw_table_stats(
    client: bigquery.Client, settings: Settings, entities: Iterable[Entity] = ENTITIES
) -> dict[str, RawStats | Exception]:
    """Entity name -> its table's stats, or the error reading it (``NotFound``: no table)."""
    chosen = list(entities)
    parts = [_sql(settings, e) for e in chosen]
    try:
        return _read(client, _union(parts), chosen)
    except Exception:  # a missing table fails the union: read each table on its own
        out: dict[str, RawStats | Exception] = {}
        for entity, sql in zip(chosen, parts, strict=True):
            try:
                out.update(_read(client, sql, [entity]))
            except Exception as exc:
                out[entity.name] = exc
        return out


def _union(selects: Iterable[str]) -> str:
    """One statement of one-table SELECTs: one job, parsed and planned once."""
    return "\nUNION ALL\n".join(selects)


def _sql(settings: Settings, entity: Entity) -> str:
    return sqlfiles.render(
        "ops/raw_table_stats.sql",
        settings,
        table=entity.raw_table,
        entity=entity.name,
        key=key_expression(entity),
    ).strip()


def key_expression(entity: Entity) -> str:
    """SQL for an entity's key, one value per key (a composite key as one JSON string)."""
    if len(entity.key) == 1:
        return entity.key[0]
    return f"TO_JSON_STRING(STRUCT({', '.join(entity.key)}))"


def _read(
    client: bigquery.Client, sql: str, entities: list[Entity]
) -> dict[str, RawStats | Exception]:
    got = {
        r["entity"]: RawStats(int(r["row_count"] or 0), r["newest"], int(r["key_count"] or 0))
        for r in client.query_and_wait(sql)
    }
    return {e.name: got[e.name] for e in entities}
