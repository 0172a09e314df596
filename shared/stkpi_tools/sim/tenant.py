"""The simulated tenant: tables plus a movable clock and runtime edits.

A record is visible when its birth is at or before ``now``; its visible version is the
latest one at or before ``now`` (or a runtime edit, which stamps ``modifiedOn = now``).
Moving the clock forward therefore shows new records and edits of old ones, the way a
daily incremental run sees a real tenant. Thread-safe: the server is threaded.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from stkpi.registry import ENTITIES, get_entity, record_key
from stkpi_tools.sim.catalog import BUSINESS_UNITS
from stkpi_tools.sim.clock import HOUR, NEVER, SimClock, iso, parse_time, to_epoch
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.entities import SIM_ENTITIES, build_tables, view
from stkpi_tools.sim.packed_versions import pack
from stkpi_tools.sim.shapes import Kind, conform, operation
from stkpi_tools.sim.tables import Table
from stkpi_tools.st_spec import record_schema

MICROS = 1_000_000  # per second
_DATE_START = re.compile(r"\d{4}-\d\d-\d\d")


@dataclass(frozen=True)
class Filters:
    """List-endpoint filters in epoch seconds; None = unbounded. ``active`` None = Any."""

    modified_from: int | None = None
    modified_before: int | None = None
    created_from: int | None = None
    created_before: int | None = None
    active: bool | None = None


class Tenant:
    """A deterministic ServiceTitan tenant generated from a ``SimConfig``."""

    def __init__(self, config: SimConfig, clock: SimClock | None = None) -> None:
        """``clock``: the simulator's, shared with its other tenants (default: one of this
        tenant's own, at ``config.now``)."""
        if config.bu_names and len(config.bu_names) != len(BUSINESS_UNITS):
            raise ValueError(f"bu_names needs {len(BUSINESS_UNITS)} names, one per catalog BU")
        self.config = config
        self.tables: dict[str, Table] = build_tables(config)
        missing = {e.name for e in ENTITIES} - set(self.tables)
        if missing:
            raise RuntimeError(f"simulator does not generate {sorted(missing)}")
        self._lock = threading.RLock()
        self.clock = clock if clock is not None else SimClock(to_epoch(config.now))
        self._edits: dict[str, np.ndarray] = {}
        # When each record was last edited at runtime, as a sequence number: the export feed
        # puts a record edited after a read behind everything read before, even at the same
        # timestamp (the clock here stands still between calls; ServiceTitan's does not).
        self._edit_order: dict[str, np.ndarray] = {}
        self._edit_count = 0
        # Hard deletes: a deleted record vanishes from every list and export answer,
        # whatever the filters (active=Any included), as in ServiceTitan.
        self._deleted: dict[str, np.ndarray] = {}
        self._generation = 0
        self._cache: dict[str, tuple[int, int, np.ndarray, np.ndarray]] = {}

    # -- clock ---------------------------------------------------------------------------
    @property
    def now(self) -> int:
        return self.clock.now

    def now_iso(self) -> str:
        return iso(self.now)

    def set_now(self, epoch_seconds: int) -> None:
        with self._lock:
            self.clock.now = int(epoch_seconds)

    def advance(self, hours: float) -> None:
        with self._lock:
            self.clock.now += round(hours * HOUR)

    def state_key(self) -> tuple[int, int]:
        """What every snapshot depends on: the clock and the count of edits and deletes.
        Equal keys, equal snapshots."""
        with self._lock:
            return self.now, self._generation

    # -- visibility ----------------------------------------------------------------------
    def visible(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(visible mask, visible modifiedOn) for an entity at the current clock."""
        with self._lock:
            now, generation = self.now, self._generation
            cached = self._cache.get(name)
            if cached and cached[0] == now and cached[1] == generation:
                return cached[2], cached[3]
            table = self.tables[name]
            versions = table.versions
            count = (versions <= now).sum(axis=1)
            mask = count > 0
            deleted = self._deleted.get(name)
            if deleted is not None:
                mask &= ~deleted
            mod = versions[np.arange(table.size), np.maximum(count - 1, 0)]
            edits = self._edits.get(name)
            if edits is not None:
                mod = np.where(edits <= now, np.maximum(mod, edits), mod)
            mod = np.where(mask, mod, NEVER)
            self._cache[name] = (now, generation, mask, mod)
            return mask, mod

    def query(self, name: str, filters: Filters) -> np.ndarray:
        """Indices (ascending id) of the visible records matching ``filters``."""
        table = self.tables[name]
        mask, mod = self.visible(name)
        mask = mask.copy()
        if filters.modified_from is not None:
            mask &= mod >= filters.modified_from
        if filters.modified_before is not None:
            mask &= mod < filters.modified_before
        if filters.created_from is not None:
            mask &= table.birth >= filters.created_from
        if filters.created_before is not None:
            mask &= table.birth < filters.created_before
        if filters.active is not None and table.active is not None:
            mask &= table.active == filters.active
        return np.flatnonzero(mask)

    def has_active(self, name: str) -> bool:
        return self.tables[name].active is not None

    # -- rendering -----------------------------------------------------------------------
    def render(
        self, name: str, indices: np.ndarray | list[int], kind: Kind = "list"
    ) -> list[dict[str, Any]]:
        """Full API dicts for ``indices`` as of the current clock, shaped as the spec's
        ``kind`` of endpoint (list or export) has them (``stkpi_tools.sim.shapes``)."""
        _, mod = self.visible(name)
        seen = view(self.tables, self.now, self.config.seed, self.config.bu_names)
        renderer = SIM_ENTITIES[name].render
        return [conform(name, kind, renderer(seen, int(i), int(mod[i]))) for i in indices]

    def iter_snapshot(self, name: str, batch: int = 2_000) -> Iterator[dict[str, Any]]:
        """Every visible record (active or not) of an entity: the tests' ground truth."""
        get_entity(name)
        indices = self.query(name, Filters())
        for start in range(0, indices.size, batch):
            yield from self.render(name, indices[start : start + batch])

    def snapshot(self, name: str) -> list[dict[str, Any]]:
        return list(self.iter_snapshot(name))

    def iter_version_micros(self, name: str) -> Iterator[tuple[str, int | None]]:
        """(key, modifiedOn in microseconds since the epoch) of every visible record: what
        a copy must hold, in a fraction of the snapshot's bytes (chaos runs compare tens of
        thousands of keys), in the unit raw's versions are read in (``ops/raw_versions.sql``).

        An entity keyed by its ``id`` is read off the arrays every record is rendered from
        (``ids``, and the modifiedOn ``visible`` hands the renderer), not rendered whole:
        the chaos labs compare ~150,000 keys after every scenario, and rendering them took
        most of that. A hash-keyed entity's key needs its fields, so it is rendered.
        ``test_sim_tenant`` holds both ways equal for every entity."""
        entity = get_entity(name)
        if entity.key != ("id",):  # hash-keyed (payroll items): the key needs the fields
            for record in self.iter_snapshot(name):
                modified = record.get("modifiedOn")
                micros = None if modified is None else parse_time(modified) * MICROS
                yield record_key(entity, record), micros
            return
        chosen = self.query(name, Filters())
        _, mod = self.visible(name)
        keys = self.tables[name].ids[chosen].astype(np.int64).tolist()
        micros = (mod[chosen].astype(np.int64) * MICROS).tolist()
        yield from zip(map(str, keys), micros, strict=True)

    def packed_versions(self, name: str) -> tuple[int, str]:
        """How many records are visible, and their (key, modifiedOn) packed as raw's are
        (``stkpi_tools.sim.packed_versions``)."""
        pairs = list(self.iter_version_micros(name))
        return len(pairs), pack(pairs)

    def counts(self) -> dict[str, int]:
        """Visible records per entity at the current clock."""
        return {name: int(self.visible(name)[0].sum()) for name in self.tables}

    # -- runtime edits -------------------------------------------------------------------
    def edit(
        self, name: str, count: int, salt: int = 0, among: np.ndarray | None = None
    ) -> list[int]:
        """Stamp ``modifiedOn = now`` on ``count`` visible records; returns their indices.

        Models a user editing records while a client pages: edited rows move to the end of
        the modifiedOn order and out of older windows.
        """
        with self._lock:
            pool = self.query(name, Filters()) if among is None else among
            if pool.size == 0 or count <= 0:
                return []
            rng = np.random.default_rng([self.config.seed, 7_919, salt, self._generation])
            chosen = rng.choice(pool, size=min(count, pool.size), replace=False)
            table = self.tables[name]
            edits = self._edits.setdefault(name, np.full(table.size, NEVER, dtype=np.int64))
            edits[chosen] = self.now
            self._sequence_edit(name, chosen)
            self._generation += 1
            return sorted(int(i) for i in chosen)

    def _sequence_edit(self, name: str, chosen: np.ndarray) -> None:
        self._edit_count += 1
        order = self._edit_order.setdefault(name, np.zeros(self.tables[name].size, dtype=np.int64))
        order[chosen] = self._edit_count

    # -- soft deletes --------------------------------------------------------------------
    def deactivate(self, name: str, ids: list[int]) -> list[int]:
        """Deactivate records (ServiceTitan's soft delete): ``active`` becomes false and
        ``modifiedOn`` now, so a list read with ``active=Any`` and the export feed show the
        change, and a default list hides the record. Returns the ids, ascending; an id the
        tenant does not serve, or an entity whose records have no ``active`` in ServiceTitan's
        list, is a ValueError (nothing changes)."""
        entity = get_entity(name)
        schema_fields = record_schema(operation(entity, "list")).get("properties", {})
        if "active" not in schema_fields:
            raise ValueError(f"{name}: ServiceTitan's list has no active flag to clear")
        with self._lock:
            table = self.tables[name]
            chosen = self._indices_of(name, ids, self.query(name, Filters()))
            if table.active is None:
                table.active = np.ones(table.size, dtype=bool)
            table.active[chosen] = False
            edits = self._edits.setdefault(name, np.full(table.size, NEVER, dtype=np.int64))
            edits[chosen] = self.now
            self._sequence_edit(name, chosen)
            self._generation += 1
            return sorted(int(table.ids[i]) for i in chosen)

    # -- hard deletes --------------------------------------------------------------------
    def delete(
        self,
        name: str,
        *,
        ids: list[int] | None = None,
        fraction: float | None = None,
        salt: int = 0,
    ) -> list[int]:
        """Hard-delete records: the given ``ids``, or a ``fraction`` of the visible ones
        (chosen by the seed and ``salt``). Returns the deleted ids, ascending.

        Raises ValueError naming what is wrong (an id the tenant does not serve, a fraction
        outside (0, 1], neither or both given), never deleting part of a bad request.
        """
        if (ids is None) == (fraction is None):
            raise ValueError("delete takes either ids or fraction, not both or neither")
        with self._lock:
            table = self.tables[name]
            visible = self.query(name, Filters())
            if ids is not None:
                chosen = self._indices_of(name, ids, visible)
            else:
                assert fraction is not None
                if not 0 < fraction <= 1:
                    raise ValueError(f"fraction must be in (0, 1], got {fraction}")
                size = round(visible.size * fraction)
                rng = np.random.default_rng([self.config.seed, 104_729, salt, self._generation])
                chosen = rng.choice(visible, size=size, replace=False) if size else visible[:0]
            mask = self._deleted.setdefault(name, np.zeros(table.size, dtype=bool))
            mask[chosen] = True
            self._generation += 1
            return sorted(int(table.ids[i]) for i in chosen)

    def restore(self, name: str, ids: list[int]) -> list[int]:
        """Bring deleted records back (a key that reappears); returns their ids."""
        with self._lock:
            table = self.tables[name]
            mask = self._deleted.get(name)
            positions = np.searchsorted(table.ids, np.asarray(ids, dtype=table.ids.dtype))
            bad = [
                i
                for i, p in zip(ids, positions, strict=True)
                if p >= table.size or table.ids[p] != i or mask is None or not mask[p]
            ]
            if bad:
                raise ValueError(f"{name}: not deleted, cannot restore: {bad[:10]}")
            assert mask is not None
            mask[positions] = False
            self._generation += 1
            return sorted(int(i) for i in ids)

    def deleted_ids(self, name: str) -> list[int]:
        """Ids deleted so far (the ground truth a key scan must find)."""
        mask = self._deleted.get(name)
        if mask is None:
            return []
        return sorted(int(i) for i in self.tables[name].ids[mask])

    def _indices_of(self, name: str, ids: list[int], visible: np.ndarray) -> np.ndarray:
        table = self.tables[name]
        wanted = np.asarray(sorted(set(ids)), dtype=table.ids.dtype)
        positions = np.searchsorted(table.ids, wanted)
        found = (positions < table.size) & (
            table.ids[np.minimum(positions, table.size - 1)] == wanted
        )
        served = np.isin(positions, visible)
        bad = [int(i) for i, ok in zip(wanted, found & served, strict=True) if not ok]
        if bad:
            raise ValueError(f"{name}: no visible record with id(s) {bad[:10]}")
        return positions

    # -- export cursor -------------------------------------------------------------------
    def export_page(
        self, name: str, token: str | None, size: int, active: bool | None = None
    ) -> tuple[list[dict[str, Any]], bool, str]:
        """One export batch in change order (modifiedOn, then the order of runtime edits,
        then id), starting at ``token`` inclusive; ``active`` narrows it as the export's
        ``active`` parameter does (None: all)."""
        table = self.tables[name]
        mask, mod = self.visible(name)
        if active is not None and table.active is not None:
            mask = mask & (table.active == active)
        indices = np.flatnonzero(mask)
        edited = self._edit_order.get(name)
        seq = edited if edited is not None else np.zeros(table.size, dtype=np.int64)
        order = indices[np.lexsort((table.ids[indices], seq[indices], mod[indices]))]
        start = 0
        if token:
            # A continuation token, or a date (the spec: "custom date strings, e.g.
            # 2020-01-01, to start the export from a certain point in time").
            dated = _DATE_START.match(token)
            at = (parse_time(token), 0, 0) if dated else decode_token(token)
            keys = (mod[order], seq[order], table.ids[order])
            before = (keys[0] < at[0]) | (keys[0] == at[0]) & (
                (keys[1] < at[1]) | (keys[1] == at[1]) & (keys[2] < at[2])
            )
            start = int(np.sum(before))
        page = order[start : start + size]
        has_more = start + page.size < order.size
        if page.size:
            last = int(page[-1])
            cont = encode_token(int(mod[last]), int(seq[last]), int(table.ids[last]))
        else:
            cont = token or encode_token(0, 0, 0)
        return self.render(name, page, "export"), has_more, cont


def encode_token(mod: int, edit: int, record_id: int) -> str:
    """A feed position: the record's modifiedOn, runtime-edit sequence and id."""
    text = f"{mod}:{edit}:{record_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, int, int]:
    """Raises ValueError for a token this server did not issue."""
    try:
        padded = token + "=" * (-len(token) % 4)
        mod, edit, record_id = base64.urlsafe_b64decode(padded.encode()).decode().split(":")
        return int(mod), int(edit), int(record_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid continuation token {token!r}") from exc
