"""Turn an API record into the raw row that lands in GCS and loads into BigQuery.

A row is the registry's typed columns plus the whole record as ``payload`` (a JSON string,
so no field the marts do not yet use is ever lost), plus lineage columns. Money stays a
decimal string end to end (NUMERIC in BigQuery): no float ever touches a cent.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from stkpi.registry import Column, Entity, dig, record_key
from stkpi.windows import iso_z, parse_ts

LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("payload", "STRING"),
    ("_ingested_at", "TIMESTAMP"),
    ("_run_id", "STRING"),
    ("_window_id", "STRING"),
    ("_page", "INT64"),
)


class RecordError(ValueError):
    """A record cannot become a row (wrong type in a typed column, no key)."""


def _convert(col: Column, value: Any) -> Any:
    if value is None:
        return None
    try:
        if col.type == "INT64":
            if isinstance(value, bool):
                raise TypeError("bool is not an integer")
            return int(value)
        if col.type == "NUMERIC":
            if isinstance(value, bool):
                raise TypeError("bool is not a number")
            return str(Decimal(str(value)))
        if col.type == "FLOAT64":
            return float(value)
        if col.type == "BOOL":
            if not isinstance(value, bool):
                raise TypeError("not a boolean")
            return value
        if col.type == "TIMESTAMP":
            return iso_z(parse_ts(str(value)))
        return str(value)
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise RecordError(f"column {col.name} ({col.type}) cannot take {value!r}: {exc}") from None


def to_row(
    entity: Entity,
    record: dict[str, Any],
    *,
    run_id: str,
    window_id: str,
    page: int,
    ingested_at: datetime,
) -> dict[str, Any]:
    """Raw row for ``record``; raises ``RecordError`` naming the column and value."""
    if not isinstance(record, dict):
        raise RecordError(f"{entity.name}: record is not a JSON object: {record!r:.200}")
    row: dict[str, Any] = {}
    for col in entity.columns:
        if entity.key_hash_fields is not None and col.name in entity.key:
            row[col.name] = record_key(entity, record)
            continue
        value = next((v for v in (dig(record, s) for s in col.sources) if v is not None), None)
        row[col.name] = _convert(col, value)
    for key in entity.key:
        if row.get(key) is None:
            raise RecordError(f"{entity.name}: record has no key {key!r}: {record!r:.200}")
    row["payload"] = json.dumps(record, separators=(",", ":"), sort_keys=True)
    row["_ingested_at"] = iso_z(ingested_at)
    row["_run_id"] = run_id
    row["_window_id"] = window_id
    row["_page"] = page
    return row
