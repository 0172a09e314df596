"""Raw tables against the simulator, key for key: the proof behind every chaos verdict.

The simulator is the source of truth, not an expected number: raw must hold exactly the
keys it serves, each once, each at the simulator's latest ``modifiedOn``. Rows the key
scan marked deleted (stkpi.key_scan) are not part of the copy: a key the simulator still
serves but raw marked deleted is missing (and counted as wrongly deleted), a live key it
no longer serves is unexpected (a delete not marked).
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

    @property
    def ok(self) -> bool:
        return not (self.duplicates or self.missing or self.outdated or self.unexpected)

    def describe(self) -> str:
        return (
            f"{self.entity}: expected {self.expected}, raw {self.in_raw}, "
            f"{self.duplicates} duplicates, {self.missing} missing, {self.outdated} outdated, "
            f"{self.unexpected} unexpected, {self.marked_deleted} marked deleted "
            f"({self.wrongly_deleted} wrongly); e.g. {list(self.examples)}"
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
) -> EntityComparison:
    """Compare {key: modifiedOn} from the source with the live (key, modified_on) raw
    rows; ``deleted``: the keys of rows marked deleted (they count only as duplicates)."""
    want = {str(k): to_micros(v) for k, v in expected.items()}
    rows = Counter((str(k), to_micros(v)) for k, v in raw_rows)
    gone = Counter(str(k) for k in deleted)
    live_keys = Counter(k for k, _ in rows.elements())
    per_key = live_keys + gone
    have = {k: v for k, v in rows}
    missing = [k for k in want if k not in live_keys]
    wrongly = [k for k in want if k in gone]
    outdated = [k for k in want if k in live_keys and have[k] != want[k]]
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
) -> list[EntityComparison]:
    """One comparison per entity (every registered entity by default)."""
    chosen = [get_entity(n) for n in entities] if entities else list(ENTITIES)
    return [
        compare_entity(e.name, versions_of(e.name), *raw_versions(client, settings, e))
        for e in chosen
    ]
