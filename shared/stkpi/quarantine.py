"""Records that cannot be stored are set aside, named, and the window goes on.

One record ServiceTitan sends that BigQuery cannot hold (a lone UTF-16 surrogate in a name,
an integer beyond 64 bits, a number beyond a double, a value of the wrong type in a typed
column, no key) used to fail its whole page: the window was fetched five times, then
dead-lettered without a reason, no rebuild ran, and every later daily run met the same
record, so every KPI froze. A record whose ``modifiedOn`` (or ``createdOn``) lies beyond
now plus a tolerance is as bad in another way: the MERGE keeps the larger version, so a
record stamped 2099 would never be replaced again.

Such a record is written to ``st_ops.quarantine`` (``sql/ops/quarantine.sql``: the run,
window and page it came from, its key when it has one, the reason and its raw text) and
left out of the page; the page, the window and the run go on. A quarantined record still
counts as read (``stkpi.fetch``: a window must add up). The validation
``pipeline.quarantine`` names the records not copied since and the command that reads them
again once the cause is fixed (``stkpi quarantine --replay``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from stkpi.kpi_config import sql_string
from stkpi.messages import PlanMessage
from stkpi.registry import Entity, get_entity, record_key
from stkpi.rows import RecordError
from stkpi.windows import iso_z, parse_ts

# Raw text kept per record: enough to see and fix any real record, bounded so one huge
# record cannot make a streaming insert fail (BigQuery allows 10 MB a row).
RAW_TEXT_CHARS = 100_000
# The times a record's version and creation may not pass: beyond them the MERGE would keep
# the record's version for ever (``modifiedOn``), or it would claim a day not yet lived.
FUTURE_COLUMNS = ("modified_on", "created_on")


def raw_text(record: Any) -> tuple[str, bool]:
    """The record as JSON that any store accepts (non-ASCII escaped, so a lone surrogate is
    written as ``\\ud800``; a number beyond a double as ``Infinity``), cut to
    ``RAW_TEXT_CHARS``; and whether it was cut."""
    try:
        text = json.dumps(record, ensure_ascii=True, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(record)
    return text[:RAW_TEXT_CHARS], len(text) > RAW_TEXT_CHARS


def key_of(entity: Entity, record: Any) -> str | None:
    """The record's key when it has one (a quarantined record may not)."""
    if not isinstance(record, dict):
        return None
    try:
        return record_key(entity, record)
    except (ValueError, TypeError):
        return None


def check_times(entity: Entity, row: dict[str, Any], not_after: str) -> None:
    """Raise ``RecordError`` when the row's version or creation time (ISO-8601 ``Z``, as
    rows spell them) lies beyond ``not_after``."""
    for column in FUTURE_COLUMNS:
        value = row.get(column)
        if isinstance(value, str) and value > not_after:
            raise RecordError(
                f"{entity.name}: {column} {value} is in the future (beyond {not_after}, "
                "now plus the tolerance): kept, the record would never be replaced"
            )


def not_after(now: datetime, tolerance_hours: float) -> str:
    """The latest time a record may carry, as rows spell times."""
    return iso_z(now + timedelta(hours=tolerance_hours))


@dataclass
class PassKeys:
    """The distinct keys one pass over a window read (quarantined records included), how
    many records without a key it read, and which keys it quarantined; shared by the
    threads reading its pages."""

    keys: set[str] = field(default_factory=set)
    unkeyed: int = 0
    held: set[str] = field(default_factory=set)  # keys of quarantined records
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, key: str | None, *, quarantined: bool = False) -> None:
        with self._lock:
            if key is None:
                self.unkeyed += 1
                return
            self.keys.add(key)
            if quarantined:
                self.held.add(key)

    def update(self, other: PassKeys) -> None:
        with self._lock:
            self.keys |= other.keys
            self.held |= other.held
            self.unkeyed += other.unkeyed

    @property
    def distinct(self) -> int:
        """Records read, each key once (a record without a key counts on its own)."""
        return len(self.keys) + self.unkeyed

    def to_doc(self) -> dict[str, Any]:
        return {"keys": sorted(self.keys), "unkeyed": self.unkeyed, "held": sorted(self.held)}

    @classmethod
    def from_docs(cls, docs: Iterable[dict[str, Any]]) -> PassKeys:
        out = cls()
        for doc in docs:
            out.keys.update(str(k) for k in doc.get("keys", ()))
            out.held.update(str(k) for k in doc.get("held", ()))
            out.unkeyed += int(doc.get("unkeyed", 0))
        return out


@dataclass(frozen=True)
class Origin:
    """Where quarantined records were read: the run, the window and its range."""

    run_id: str
    entity: str
    window_id: str
    start: datetime | None
    end: datetime | None
    scan: bool


def quarantine_row(
    origin: Origin, page: int, record: Any, key: str | None, reason: str, at: datetime
) -> dict[str, Any]:
    """The ``st_ops.quarantine`` row of one record."""
    text, cut = raw_text(record)
    modified = record.get("modifiedOn") if isinstance(record, dict) else None
    return {
        "quarantined_at": iso_z(at),
        "run_id": origin.run_id,
        "entity": origin.entity,
        "window_id": origin.window_id,
        "window_start": iso_z(origin.start) if origin.start else None,
        "window_end": iso_z(origin.end) if origin.end else None,
        "scan": origin.scan,
        "page": page,
        "record_key": key,
        "modified_on": raw_text(modified)[0][:64] if modified is not None else None,
        "reason": reason[:2000],
        "raw_text": text,
        "raw_truncated": cut,
    }


# -- what stays quarantined, and reading it again -------------------------------------------

# How far back quarantined records are judged and replayed.
LOOKBACK_DAYS = 30


@dataclass(frozen=True)
class OpenRecord:
    """A quarantined record no good copy has reached raw since. ``copied_at``: when raw last
    got a copy of the key (an older version it still shows), or None: raw has none."""

    entity: str
    record_key: str | None
    reason: str
    run_id: str
    window_id: str
    window_start: datetime | None
    window_end: datetime | None
    scan: bool
    modified_on: str | None
    quarantined_at: datetime
    copied_at: datetime | None

    def describe(self) -> str:
        return f"{self.entity} {self.record_key or '(no key)'} ({self.reason[:120]})"


def open_records(
    query: Callable[..., list[dict[str, Any]]], now: datetime, lookback_days: int = LOOKBACK_DAYS
) -> list[OpenRecord]:
    """Quarantined records of the last ``lookback_days`` not copied since. ``query(name,
    params, **placeholders)`` runs a ``sql/validations/`` query (``Context.query``)."""
    since = iso_z(now - timedelta(days=lookback_days))
    rows = query("quarantine_open", {"since": since})
    copied: dict[tuple[str, str], datetime] = {}
    by_entity: dict[str, set[str]] = {}
    for row in rows:
        if row["record_key"] is not None:
            by_entity.setdefault(row["entity"], set()).add(str(row["record_key"]))
    for name, keys in sorted(by_entity.items()):
        entity = get_entity(name)
        listed = ", ".join(sql_string(k) for k in sorted(keys))
        for got in query(
            "quarantine_copied", None, table=entity.raw_table, key=entity.key[0], keys=listed
        ):
            copied[(name, str(got["record_key"]))] = got["copied_at"]
    out = []
    for row in rows:
        key = None if row["record_key"] is None else str(row["record_key"])
        at = copied.get((row["entity"], key)) if key is not None else None
        if at is not None and at > row["quarantined_at"]:
            continue  # a good copy came after: resolved
        out.append(
            OpenRecord(
                entity=row["entity"],
                record_key=key,
                reason=row["reason"],
                run_id=row["run_id"],
                window_id=row["window_id"],
                window_start=row["window_start"],
                window_end=row["window_end"],
                scan=bool(row["scan"]),
                modified_on=row["modified_on"],
                quarantined_at=row["quarantined_at"],
                copied_at=at,
            )
        )
    return out


REPLAY_COMMAND = "stkpi quarantine --replay"


def replay_ranges(
    records: Iterable[OpenRecord], now: datetime
) -> dict[str, tuple[datetime, datetime]]:
    """Per entity, the ``modifiedOn`` range a backfill reads again to copy these records:
    the windows they were read in (a key scan's window is by ``createdOn``, so there the
    record's own ``modifiedOn``, when it is a time not in the future). Never past ``now``."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for rec in records:
        start, end = rec.window_start, rec.window_end
        if rec.scan or start is None or end is None:
            try:
                at = parse_ts(str(rec.modified_on).strip('"'))
            except ValueError:
                continue  # no usable time: the next key scan reads it again
            if at >= now:
                continue
            start, end = at, at + timedelta(seconds=1)
        end = min(end, now)
        if start >= end:
            continue
        lo, hi = spans.get(rec.entity, (start, end))
        spans[rec.entity] = (min(lo, start), max(hi, end))
    return spans


def replay_plans(
    records: Iterable[OpenRecord], now: datetime, run_id: Callable[[int], str]
) -> list[PlanMessage]:
    """The backfills that read these records again once fixed: one per entity over the
    windows they were read in (``replay_ranges``), the n-th named ``run_id(n)``. ``now``
    is the tenant's present: a plan may not end past it."""
    return [
        PlanMessage(run_type="backfill", entities=[entity], start=start, end=end,
                    run_id=run_id(n))
        for n, (entity, (start, end)) in enumerate(sorted(replay_ranges(records, now).items()))
    ]  # fmt: skip
