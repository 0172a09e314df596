"""Raw tables against the simulator, key for key: the proof behind every chaos verdict.

The simulator is the source of truth, not an expected number: raw must hold exactly the
keys it serves, each once, each at the simulator's latest ``modifiedOn``. Rows the key
scan marked deleted (stkpi.key_scan) are not part of the copy: a key the simulator still
serves but raw marked deleted is missing (and counted as wrongly deleted), a live key it
no longer serves is unexpected (a delete not marked).

A copy is due only up to where its runs read. Every window is half-open by ``modifiedOn``,
``[start, end)``, and a run ends at or before the tenant's present, so a record stamped at
or after the last run's end (a visit started on the hour the run ended at, an edit made
while it paged) is not in any window yet: it is the next run's, whose window starts at the
mark minus the lookback. Judged against the simulator's whole present, such a record looked
lost (issue: seed 4 at 18:00, two jobs started at 18:00:00 "missing"), and whether a test
met one depended on the hour it ran. ``copied_until`` (per entity, the latest end of the
runs compared: ``CopyHorizon``) says where the copy is due: a record modified at or after
it is *pending*, and raw may lack it or hold an older version of it, never a newer one.
Reference entities are listed whole, whatever the window, so all of theirs is always due.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import bigquery

from stkpi import sqlfiles
from stkpi.config import Settings
from stkpi.planner import RunPlan
from stkpi.registry import ENTITIES, Entity, get_entity
from stkpi.windows import parse_ts
from stkpi_tools.sim.packed_versions import unpack as unpack_versions

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
VersionsOf = Callable[[str], Mapping[str, Any]]  # entity name -> {key: modifiedOn}


@dataclass(frozen=True)
class EntityComparison:
    entity: str
    expected: int  # records the simulator serves
    in_raw: int  # live rows in the raw table (not marked deleted)
    duplicates: int  # rows beyond one per key
    missing: int  # keys the simulator serves that raw lacks
    outdated: int  # keys raw holds at another modifiedOn than the simulator's
    unexpected: int  # keys raw holds that the simulator does not serve
    examples: tuple[str, ...] = field(default=())
    marked_deleted: int = 0  # rows the key scan marked deleted (not part of the copy)
    wrongly_deleted: int = 0  # ... of which the simulator still serves (within missing)
    # keys modified at or after the copy's end that raw lacks or holds at an older
    # version: the next run's, not a difference (see the module docstring)
    pending: int = 0

    @property
    def ok(self) -> bool:
        return not (self.duplicates or self.missing or self.outdated or self.unexpected)

    def describe(self) -> str:
        return (
            f"{self.entity}: expected {self.expected}, raw {self.in_raw}, "
            f"{self.duplicates} duplicates, {self.missing} missing, {self.outdated} outdated, "
            f"{self.unexpected} unexpected, {self.marked_deleted} marked deleted "
            f"({self.wrongly_deleted} wrongly), {self.pending} pending; "
            f"e.g. {list(self.examples)}"
        )


def to_micros(value: Any) -> int | None:
    """A modifiedOn as microseconds since the epoch, whatever its spelling: the packed
    integers both sides send (the fast path), a datetime, or API text."""
    if value is None or isinstance(value, int):
        return value
    if not isinstance(value, datetime):
        value = parse_ts(str(value))
    return (value - EPOCH) // MICROSECOND


def _iso(micros: int | None) -> str | None:
    return None if micros is None else (EPOCH + micros * MICROSECOND).isoformat()


def compare_entity(
    entity: str,
    expected: Mapping[str, Any],
    raw_rows: Iterable[tuple[str, Any]],
    deleted: Iterable[str] = (),
    copied_until: Any = None,
) -> EntityComparison:
    """Compare {key: modifiedOn} from the source with the live (key, modified_on) raw
    rows; ``deleted``: the keys of rows marked deleted (they count only as duplicates).
    ``copied_until``: the exclusive end of the windows the copy read (None: all of the
    source is due); a key the source holds at or after it may be absent from raw or older
    there (pending), never newer."""
    want = {str(k): to_micros(v) for k, v in expected.items()}
    due_before = to_micros(copied_until)
    rows = Counter((str(k), to_micros(v)) for k, v in raw_rows)
    gone = Counter(str(k) for k in deleted)
    live_keys = Counter(k for k, _ in rows.elements())
    per_key = live_keys + gone
    have = {k: v for k, v in rows}

    def due(k: str) -> bool:
        return due_before is None or want[k] is None or want[k] < due_before

    def behind(k: str) -> bool:  # raw lacks the key or holds a version older than want's
        return k not in live_keys or (have[k] is not None and have[k] < want[k])

    pending = [k for k in want if not due(k) and behind(k)]
    missing = [k for k in want if k not in live_keys and due(k)]
    wrongly = [k for k in want if k in gone]
    outdated = [
        k for k in want if k in live_keys and have[k] != want[k] and (due(k) or not behind(k))
    ]
    unexpected = [k for k in live_keys if k not in want]
    dup_keys = [k for k, n in per_key.items() if n > 1]
    examples = (
        [f"missing {k}" for k in missing[:2]]
        + [f"outdated {k}: raw {_iso(have[k])} vs {_iso(want[k])}" for k in outdated[:2]]
        + [f"unexpected {k}" for k in unexpected[:2]]
        + [f"wrongly deleted {k}" for k in wrongly[:2]]
        + [f"duplicate {k} x{per_key[k]}" for k in dup_keys[:2]]
    )
    return EntityComparison(
        entity=entity,
        expected=len(want),
        in_raw=sum(live_keys.values()),
        duplicates=sum(per_key.values()) - len(per_key),
        missing=len(missing),
        outdated=len(outdated),
        unexpected=len(unexpected),
        examples=tuple(examples),
        marked_deleted=sum(gone.values()),
        wrongly_deleted=len(wrongly),
        pending=len(pending),
    )


def raw_versions(
    client: bigquery.Client, settings: Settings, entity: Entity
) -> tuple[list[tuple[str, int | None]], list[str]]:
    """(key, modified_on in microseconds) of every live row of one raw table, and the
    keys marked deleted."""
    sql = sqlfiles.render(
        "ops/raw_versions.sql", settings, table=entity.raw_table, key=entity.key[0]
    )
    live: list[tuple[str, int | None]] = []
    deleted: list[str] = []
    for r in client.query_and_wait(sql):
        pairs = unpack_versions(r["versions"] or "")
        if len(pairs) != r["n"]:
            raise RuntimeError(
                f"{entity.raw_table}: unpacked {len(pairs)} versions of {r['n']} rows "
                "(a key with a comma in it?)"
            )
        if r["deleted"]:
            deleted.extend(k for k, _ in pairs)
        else:
            live.extend(pairs)
    return live, deleted


def compare_raw(
    client: bigquery.Client,
    settings: Settings,
    versions_of: VersionsOf,
    entities: Iterable[str] | None = None,
    copied_until: Mapping[str, datetime] | None = None,
) -> list[EntityComparison]:
    """One comparison per entity (every registered entity by default). ``copied_until``:
    per entity, the end of the windows the runs compared read (``CopyHorizon.ends``);
    an entity it does not name, or one listed whole (no window), is due in full."""
    chosen = [get_entity(n) for n in entities] if entities else list(ENTITIES)
    ends = copied_until or {}
    return [
        compare_entity(
            e.name,
            versions_of(e.name),
            *raw_versions(client, settings, e),
            copied_until=ends.get(e.name) if e.window_params is not None else None,
        )
        for e in chosen
    ]


class CopyHorizon:
    """How far a copy is due, per entity: the latest end of the runs it is made of.

    Fed each run's stored plan (``RunPlan.entity_ends``: the exclusive end of the windows
    it read of each entity) once the run is done. The latest end rules, as the high-water
    mark does: a later run ending earlier (a replay of a past range) takes nothing back."""

    def __init__(self) -> None:
        self.ends: dict[str, datetime] = {}

    def add(self, plan: RunPlan) -> None:
        if plan.run_type == "deletes":
            return  # a key scan reads by createdOn and copies nothing
        for name, end in plan.entity_ends.items():
            if get_entity(name).window_params is not None:
                self.ends[name] = max(end, self.ends.get(name, end))
