"""Turn an API record into the raw row that lands in GCS and loads into BigQuery.

A row is the registry's typed columns plus the whole record as ``payload`` (a JSON string,
so no field the marts do not yet use is ever lost), plus lineage columns. Money stays a
decimal string end to end (NUMERIC in BigQuery): ServiceTitan's accounting module sends money
as decimal strings (``"total": "1234.50"``), read here digit for digit, never through a float.
The other modules send JSON numbers, which the page parser reads as floats; a float's
shortest representation gives back the decimal that was sent for every amount under 15
significant digits (a trillion dollars to the cent), so those are exact as well.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import orjson

from stkpi.registry import Column, Entity, dig, record_key
from stkpi.windows import iso_z, parse_ts

LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("payload", "STRING"),
    ("_ingested_at", "TIMESTAMP"),
    ("_run_id", "STRING"),
    ("_window_id", "STRING"),
    ("_page", "INT64"),
)
# Columns of the raw tables that no fetched row carries: ``deleted_at`` is set and cleared
# by the key scan alone (stkpi.key_scan), never by the MERGE, whose column list is the
# registry's plus LINEAGE_COLUMNS (sql/stage/merge_raw.sql).
RAW_ONLY_COLUMNS: tuple[tuple[str, str], ...] = (("deleted_at", "TIMESTAMP"),)


class RecordError(ValueError):
    """A record cannot become a row (wrong type in a typed column, no key, a value BigQuery
    cannot hold). The fetch quarantines it (``stkpi.quarantine``) instead of failing."""


# What BigQuery's types hold: INT64, and NUMERIC (precision 38, scale 9).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_NUMERIC_LIMIT = Decimal(10) ** 29


_UTC_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
NUMERIC_SCALE = 9  # BigQuery NUMERIC: 38 digits, 9 after the point


def decimal_text(value: Any) -> str:
    """A money or quantity value as plain decimal text, exactly: a decimal string as
    written (no exponent, NaN, infinity or separators), an integer, or a finite float by
    its shortest representation. Raises ValueError or TypeError for anything else."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, str):
        text = value.strip()
        if not _DECIMAL.fullmatch(text):
            raise ValueError("not a plain decimal number")
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("not a finite number")
        text = repr(value)
    else:
        raise TypeError(f"a {type(value).__name__} is not a number")
    number = Decimal(text)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > NUMERIC_SCALE:
        raise ValueError(f"more than {NUMERIC_SCALE} decimal places: NUMERIC cannot hold it")
    if abs(number) >= _NUMERIC_LIMIT:
        raise ValueError("beyond BigQuery's NUMERIC (29 digits before the point)")
    return format(number, "f")


def _convert(col: Column, value: Any) -> Any:
    if value is None:
        return None
    try:
        if col.type == "INT64":
            if isinstance(value, bool):
                raise TypeError("bool is not an integer")
            if isinstance(value, float) and not value.is_integer():
                raise ValueError("not a whole number")
            number = int(value)
            if not INT64_MIN <= number <= INT64_MAX:
                raise ValueError("an integer beyond 64 bits")
            return number
        if col.type == "NUMERIC":
            return decimal_text(value)
        if col.type == "FLOAT64":
            number = float(value)
            if not math.isfinite(number):
                raise ValueError("a number beyond a double")
            return number
        if col.type == "BOOL":
            if not isinstance(value, bool):
                raise TypeError("not a boolean")
            return value
        if col.type == "TIMESTAMP":
            if isinstance(value, str) and _UTC_SECONDS.fullmatch(value):
                datetime.fromisoformat(value[:19])  # a real date and time, or ValueError
                return value[:19] + "Z"  # what iso_z(parse_ts(...)) makes of it, faster
            return iso_z(parse_ts(str(value)))
        return str(value)
    except (TypeError, ValueError, InvalidOperation, OverflowError) as exc:
        shown = f"{value!r:.80}"
        raise RecordError(f"column {col.name} ({col.type}) cannot take {shown}: {exc}") from None


def _getter(sources: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    """The first non-null of the column's sources; a plain key is a dict lookup."""
    if len(sources) == 1 and "." not in sources[0]:
        return operator.methodcaller("get", sources[0])
    return lambda record: next(
        (v for v in (dig(record, s) for s in sources) if v is not None), None
    )


_COLUMN_PLANS: dict[str, list[tuple[Column, Callable[[dict[str, Any]], Any] | None]]] = {}


def _column_plan(entity: Entity) -> list[tuple[Column, Callable[[dict[str, Any]], Any] | None]]:
    """Per column, how to read it from a record (None: the hashed key). Built once per
    entity: a page of 5,000 records would otherwise re-derive it 5,000 times."""
    plan = _COLUMN_PLANS.get(entity.name)
    if plan is None:
        plan = [
            (
                col,
                None
                if entity.key_hash_fields is not None and col.name in entity.key
                else _getter(tuple(col.sources)),
            )
            for col in entity.columns
        ]
        _COLUMN_PLANS[entity.name] = plan
    return plan


# Every row of a page carries the same ingestion time: spelled once, not once a record.
_ingested_text = lru_cache(maxsize=8)(iso_z)


def payload_text(record: dict[str, Any]) -> str:
    """The record as compact JSON with sorted keys. orjson writes it ~8x faster than the
    standard library; what it cannot (an integer beyond 64 bits) the standard library
    writes. Both are the same JSON value (orjson leaves non-ASCII unescaped)."""
    try:
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(record, separators=(",", ":"), sort_keys=True)


def unstorable(value: Any, path: str = "") -> str | None:
    """Why a parsed record cannot be stored anywhere in BigQuery, or None: a string with a
    lone UTF-16 surrogate (not UTF-8, which BigQuery's STRING and JSON need), or a number
    that is not finite (beyond a double, NaN): neither has a JSON spelling BigQuery reads.
    Names the first such value's path (``customer.name``, ``items[3].price``)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"a lone UTF-16 surrogate in {path or 'the record'}"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"a number beyond a double in {path}"
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            why = unstorable(key, where + " (its name)") or unstorable(item, where)
            if why:
                return why
    elif isinstance(value, list):
        for i, item in enumerate(value):
            why = unstorable(item, f"{path}[{i}]")
            if why:
                return why
    return None


def to_row(
    entity: Entity,
    record: dict[str, Any],
    *,
    run_id: str,
    window_id: str,
    page: int,
    ingested_at: datetime,
    screen: bool = False,
) -> dict[str, Any]:
    """Raw row for ``record``; raises ``RecordError`` naming the column and value.
    ``screen``: look through the whole record for what BigQuery cannot store
    (:func:`unstorable`); needed only for a page parsed leniently (``Page.lenient``), since
    the strict parser refuses such values."""
    if not isinstance(record, dict):
        raise RecordError(f"{entity.name}: record is not a JSON object: {record!r:.200}")
    if screen:
        why = unstorable(record)
        if why:
            raise RecordError(f"{entity.name}: {why}")
    row: dict[str, Any] = {}
    for col, read in _column_plan(entity):
        row[col.name] = record_key(entity, record) if read is None else _convert(col, read(record))
    for key in entity.key:
        if row.get(key) is None:
            raise RecordError(f"{entity.name}: record has no key {key!r}: {record!r:.200}")
    row["payload"] = payload_text(record)
    row["_ingested_at"] = _ingested_text(ingested_at)
    row["_run_id"] = run_id
    row["_window_id"] = window_id
    row["_page"] = page
    return row
