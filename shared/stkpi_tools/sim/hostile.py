"""A hostile ServiceTitan: list pages and records damaged the ways a real API can damage them.

Each malformation is asked for through the fault settings (``FaultSettings``, documented
there) and applied to a list answer here, so ``stkpi_tools.sim.api`` only hands its page
over: pages short of their count while ``totalCount`` stays, a record repeated in place of
another, ``hasMore: false`` too soon, records whose values BigQuery cannot hold (a lone
UTF-16 surrogate, an integer beyond 64 bits, a number beyond a double) or whose
``modifiedOn`` lies in 2099, and redirects to another host. What the pipeline must make of
each: docs/CHAOS.md, "hostile API".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from stkpi.registry import Entity

KINDS = ("surrogate", "huge_int", "huge_number", "future")
HUGE_INT = 2**70  # beyond INT64
FUTURE = "2099-01-01T00:00:00Z"
_HUGE_NUMBER = "__stkpi_sim_huge_number__"  # written as 1e400 once the body is JSON text
REDIRECT_HOST = "localhost"  # the simulator serves on 127.0.0.1: another origin, same port


def parse_bad_records(entries: tuple[str, ...]) -> dict[tuple[str, int], str]:
    """``"<entity>/<id>/<kind>"`` entries -> {(entity, id): kind}; a bad entry is refused."""
    out: dict[tuple[str, int], str] = {}
    for entry in entries:
        try:
            entity, ident, kind = entry.split("/")
            out[(entity, int(ident))] = kind
        except ValueError:
            raise ValueError(
                f"bad_records entry {entry!r}: expected <entity>/<id>/<kind>"
            ) from None
        if kind not in KINDS:
            raise ValueError(f"bad_records entry {entry!r}: kind must be one of {', '.join(KINDS)}")
    return out


def _int_field(entity: Entity) -> str:
    """An integer field the registry reads into a typed INT64 column (not the key)."""
    for col in entity.columns:
        if col.type == "INT64" and col.name not in entity.key and col.sources:
            return col.sources[0]
    raise ValueError(f"{entity.name} has no typed integer field besides its key")


def _text_field(record: Mapping[str, Any]) -> str:
    for name, value in record.items():
        if isinstance(value, str) and not name.endswith("On"):
            return name
    return "name"


def _set(record: dict[str, Any], dotted: str, value: Any) -> None:
    *path, last = dotted.split(".")
    for part in path:
        nested = record.get(part)
        if not isinstance(nested, dict):
            nested = record[part] = {}
        record = nested
    record[last] = value


def damage(entity: Entity, record: dict[str, Any], kind: str) -> None:
    """Make ``record`` carry the malformation ``kind`` (in place)."""
    if kind == "surrogate":
        field = _text_field(record)
        record[field] = f"{record.get(field) or ''}\ud800"
    elif kind == "huge_int":
        _set(record, _int_field(entity), HUGE_INT)
    elif kind == "huge_number":
        record["total"] = _HUGE_NUMBER
    elif kind == "future":
        record["modifiedOn"] = FUTURE


def hostile_page(
    entity: Entity,
    body: dict[str, Any] | list[dict[str, Any]],
    *,
    faults: tuple[str, ...],
    bad: Mapping[tuple[str, int], str],
    previous_first: Callable[[], dict[str, Any] | None],
) -> str:
    """The list page ``body`` (a paged object, or a bare array for the lists the spec gives
    so) as JSON text with ``faults`` (``short``, ``repeat``, ``early_end``: paged only)
    applied to the page and ``bad`` records damaged."""
    data: list[dict[str, Any]] = body["data"] if isinstance(body, dict) else body
    if "short" in faults and len(data) > 1:
        data.pop()
    if "repeat" in faults and data:
        other = previous_first()
        if other is not None:
            data[-1] = other  # a record of the page before again; this page's last is skipped
    if "early_end" in faults and isinstance(body, dict) and body.get("hasMore"):
        body["hasMore"] = False
    for record in data:
        kind = bad.get((entity.name, record.get("id")))  # type: ignore[arg-type]
        if kind is not None:
            damage(entity, record, kind)
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=True)
    return text.replace(f'"{_HUGE_NUMBER}"', "1e400")
