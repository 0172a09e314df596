"""What raw holds after a clean sync of a simulated tenant, as the validations read it.

An image keeps, per transactional entity, the two instants the volume, coverage and
freshness checks count (the entity's date column and ``modified_on``) and the columns the
join checks follow, each read from the records the simulator serves through the entity
registry's typed columns, as the fetch writes them to raw. Nothing else of a row: a
calibration judges hundreds of tenants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from stkpi.registry import TRANSACTIONAL, dig, get_entity
from stkpi.validation.measures import date_column
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.tenant import Tenant

NULL = -1  # an absent id or instant in the integer columns

# The typed columns the join checks read, per entity, as the SQL names them
# (sql/validations/join_*.sql). Ids (and booleans: 1, 0) are int64 arrays, NULL for null;
# strings stay Python lists.
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "jobs": ("id", "business_unit_id"),
    "invoices": ("id", "job_id", "active"),
    "estimates": ("job_id",),
    "appointments": ("job_id",),
    "gross_pay_items": ("job_id", "invoice_id"),
}
TEXT_COLUMNS: dict[str, tuple[str, ...]] = {"jobs": ("job_number",), "invoices": ("job_number",)}


@dataclass(frozen=True)
class EntityImage:
    """One raw table: ``counted_on`` (its date column) and ``modified_on`` in epoch seconds
    (NULL when absent), ``ids``/``texts`` the join columns, row-aligned; ``applications``
    (payments) the invoice id of each applied amount, ``applied_rows`` its payment row."""

    counted_on: np.ndarray
    modified_on: np.ndarray
    ids: Mapping[str, np.ndarray] = field(default_factory=dict)
    texts: Mapping[str, list[str | None]] = field(default_factory=dict)
    applications: np.ndarray | None = None
    applied_rows: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return int(self.counted_on.size)

    def keep(self, mask: np.ndarray) -> EntityImage:
        """The rows where ``mask`` holds (the others never reached raw)."""
        idx = np.flatnonzero(mask)
        apps, app_rows = self.applications, self.applied_rows
        if apps is not None and app_rows is not None:
            kept = mask[app_rows]
            remap = np.cumsum(mask) - 1
            apps, app_rows = apps[kept], remap[app_rows[kept]]
        return EntityImage(
            self.counted_on[idx],
            self.modified_on[idx],
            {k: v[idx] for k, v in self.ids.items()},
            {k: [v[i] for i in idx] for k, v in self.texts.items()},
            apps,
            app_rows,
        )


@dataclass(frozen=True)
class RawImage:
    """Raw after a clean sync at ``now`` (the tenant's clock): every transactional entity,
    the business units' names, and when each entity last synced."""

    now: datetime
    entities: Mapping[str, EntityImage]
    business_units: Mapping[int, str]
    synced_at: Mapping[str, datetime]

    def with_entity(self, name: str, image: EntityImage) -> RawImage:
        return replace(self, entities={**self.entities, name: image})


def demo_tenant(scale: float, seed: int, clock: datetime) -> Tenant:
    """The tenant ``stkpi demo`` builds for ``clock``: generated a day before it, backfilled
    there, then moved a day forward for the daily run (stkpi_tools.demo)."""
    tenant = Tenant(SimConfig(scale=scale, seed=seed, now=clock - timedelta(days=1)))
    tenant.advance(24)
    return tenant


def image_of(tenant: Tenant, entities: Iterable[str] = TRANSACTIONAL) -> RawImage:
    """Raw as a clean sync up to the tenant's clock leaves it (every entity just synced)."""
    now = datetime.fromtimestamp(tenant.now, UTC)
    names = list(entities)
    return RawImage(
        now=now,
        entities={name: entity_image(tenant, name) for name in names},
        business_units=business_units(tenant),
        synced_at=dict.fromkeys(names, now),
    )


def business_units(tenant: Tenant) -> dict[int, str]:
    rows = tenant.snapshot("business_units")
    return {int(r["id"]): str(r["name"]).strip() for r in rows if r.get("name") is not None}


def entity_image(tenant: Tenant, name: str) -> EntityImage:
    """One entity's image from the records the simulator serves at its clock."""
    entity = get_entity(name)
    sources = {c.name: c.sources for c in entity.columns}
    counted, modified = _getter(sources[date_column(name)]), _getter(sources["modified_on"])
    id_getters = {c: _getter(sources[c]) for c in ID_COLUMNS.get(name, ())}
    text_getters = {c: _getter(sources[c]) for c in TEXT_COLUMNS.get(name, ())}
    counted_on: list[str | None] = []
    modified_on: list[str | None] = []
    ids: dict[str, list[int]] = {c: [] for c in ID_COLUMNS.get(name, ())}
    texts: dict[str, list[str | None]] = {c: [] for c in TEXT_COLUMNS.get(name, ())}
    applications: list[int] = []
    applied_rows: list[int] = []
    for row, record in enumerate(tenant.iter_snapshot(name)):
        counted_on.append(counted(record))
        modified_on.append(modified(record))
        for col, values in ids.items():
            values.append(_int(id_getters[col](record)))
        for col, strings in texts.items():
            text = text_getters[col](record)
            strings.append(None if text is None else str(text).strip())
        if name == "payments":
            for applied in record.get("appliedTo") or ():
                applications.append(_int(dig(applied, "appliedTo")))
                applied_rows.append(row)
    return EntityImage(
        counted_on=epoch_seconds(counted_on),
        modified_on=epoch_seconds(modified_on),
        ids={k: np.asarray(v, dtype=np.int64) for k, v in ids.items()},
        texts=texts,
        applications=np.asarray(applications, dtype=np.int64) if name == "payments" else None,
        applied_rows=np.asarray(applied_rows, dtype=np.int64) if name == "payments" else None,
    )


def _getter(paths: tuple[str, ...]) -> Callable[[Mapping[str, Any]], Any]:
    """The first non-null value of ``paths`` in a record (a typed column's sources); a
    single plain key is one dict lookup."""
    if len(paths) == 1 and "." not in paths[0]:
        key = paths[0]
        return lambda record: record.get(key)
    return lambda record: next((v for v in (dig(record, p) for p in paths) if v is not None), None)


def _int(value: Any) -> int:
    """SAFE_CAST(... AS INT64): NULL for what is not an integer; a boolean 1 or 0."""
    if isinstance(value, bool):
        return int(value)
    if value is None:
        return NULL
    try:
        return int(value)
    except (TypeError, ValueError):
        return NULL


def epoch_seconds(values: list[str | None]) -> np.ndarray:
    """ISO-8601 UTC instants (``...Z``) as int64 epoch seconds; NULL for None."""
    text = np.array([v[:19] if v else "NaT" for v in values], dtype="datetime64[s]")
    out = text.astype(np.int64)
    out[np.isnat(text)] = NULL
    return out
