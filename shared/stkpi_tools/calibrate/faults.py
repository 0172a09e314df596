"""Faults a pipeline can leave in raw, applied to a healthy image.

Each fault picks its target (an entity, a month, a join) with the random generator it is
given, so a calibration run is reproducible, and says what it did. The sizes are those of
the failures the checks are there for, not the smallest a check could see:

- ``lost_window``: one entity's window of the daily run never loaded while the run was
  recorded done (the sync state advanced): raw holds the entity as it was at the window's
  start, its lookback ago (7 days; estimates 180), new records and new versions missing.
- ``dropped_month``: every record of one complete month of one entity is missing (a
  window by creation date lost, or a month's export that came back empty).
- ``volume_drop``: 90% of the records of the latest complete day of one entity are missing
  (a daily window that loaded part of its pages); only where the volume check can judge a
  day (enough records a day), else it does not apply and is counted as such.
- ``stale_entity``: one entity stopped syncing two days ago: raw holds it as it was then,
  and its last sync is that old.
- ``broken_join``: 10% of one join's child rows point to a parent raw does not have (a
  lost parent window, a link field that stopped mapping).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

import numpy as np

from stkpi.registry import get_entity
from stkpi.validation.checks import LINK_JOINS
from stkpi.validation.config import CORE_ENTITIES, ValidationConfig
from stkpi.validation.judges.completeness import add_months
from stkpi.validation.measures import first_unsettled_month
from stkpi.validation.stats import median_baseline
from stkpi_tools.calibrate.image import NULL, EntityImage, RawImage, entity_image
from stkpi_tools.calibrate.offline import local_days, today, volume
from stkpi_tools.sim.tenant import Tenant

DAY = 86_400
STALE_HOURS = 48
VOLUME_KEPT = 0.10
BROKEN_SHARE = 0.10
UNKNOWN_PARENT = 9_000_000_000_000  # an id no simulated record has


@dataclass(frozen=True)
class Faulted:
    """A damaged image and what was done to it (``family``: the checks meant to see it)."""

    fault: str
    family: str
    target: str
    image: RawImage


# A fault, or None where it cannot apply to the tenant (reported, not judged).
Fault = Callable[
    [RawImage, Tenant, ValidationConfig, ZoneInfo, np.random.Generator], Faulted | None
]


def _judged_months(image: RawImage, config: ValidationConfig, tz: ZoneInfo) -> list[dt.date]:
    """Complete months the coverage check judges (a baseline of at least
    ``coverage_min_baseline_months`` before them inside its window)."""
    current = first_unsettled_month(today(image, tz), 0)
    first = add_months(current, -(config.coverage_months - 1) + config.coverage_min_baseline_months)
    out, m = [], first
    while m < current:
        out.append(m)
        m = add_months(m, 1)
    return out


def lost_window(
    image: RawImage,
    tenant: Tenant,
    config: ValidationConfig,
    tz: ZoneInfo,
    rng: np.random.Generator,
) -> Faulted:
    entity = str(rng.choice(CORE_ENTITIES))
    lookback = get_entity(entity).lookback_days
    since = image.now - dt.timedelta(days=lookback)
    old = _as_of(tenant, entity, since)  # the sync state advanced: synced_at stays now
    return Faulted(
        "lost_window", "freshness", f"{entity} modified since {since:%Y-%m-%d %H:00}",
        image.with_entity(entity, old),
    )  # fmt: skip


def _as_of(tenant: Tenant, entity: str, when: dt.datetime) -> EntityImage:
    """The entity as raw held it at ``when`` (its records and versions then)."""
    now = tenant.now
    tenant.set_now(int(when.timestamp()))
    try:
        return entity_image(tenant, entity)
    finally:
        tenant.set_now(now)


def dropped_month(
    image: RawImage,
    tenant: Tenant,
    config: ValidationConfig,
    tz: ZoneInfo,
    rng: np.random.Generator,
) -> Faulted:
    entity = str(rng.choice(CORE_ENTITIES))
    months = _judged_months(image, config, tz)
    month = months[int(rng.integers(len(months)))]
    ent = image.entities[entity]
    days = local_days(ent.counted_on, tz)
    gone = (ent.counted_on != NULL) & (days.astype("datetime64[M]") == np.datetime64(month, "M"))
    return Faulted(
        "dropped_month",
        "coverage",
        f"{entity} {month:%Y-%m} ({int(gone.sum())} rows)",
        image.with_entity(entity, ent.keep(~gone)),
    )


def volume_drop(
    image: RawImage,
    tenant: Tenant,
    config: ValidationConfig,
    tz: ZoneInfo,
    rng: np.random.Generator,
) -> Faulted | None:
    """None when no entity has enough records a day for the volume check to judge (its
    weekday median under ``volume_min_base``): a day of 2 estimates that lost them is a
    quiet day to any check, and the fault says nothing about one."""
    judged = [
        e
        for e in config.volume_entities
        if _volume_base(image, e, config, tz) >= config.volume_min_base
    ]
    if not judged:
        return None
    entity = str(rng.choice(judged))
    day = today(image, tz) - dt.timedelta(days=1)
    ent = image.entities[entity]
    on_day = (ent.counted_on != NULL) & (local_days(ent.counted_on, tz) == np.datetime64(day))
    # Exactly 90% of the day's rows, drawn at random: a row-by-row coin would keep 3 of 6
    # as often as 1 and call that a 90% loss.
    rows = np.flatnonzero(on_day)
    gone = np.zeros(ent.rows, dtype=bool)
    gone[rng.choice(rows, size=round(rows.size * (1 - VOLUME_KEPT)), replace=False)] = True
    return Faulted(
        "volume_drop",
        "volume",
        f"{entity} {day} ({int(gone.sum())} of {int(on_day.sum())} rows)",
        image.with_entity(entity, ent.keep(~gone)),
    )


def _volume_base(image: RawImage, entity: str, config: ValidationConfig, tz: ZoneInfo) -> float:
    """The median the volume check compares the day with."""
    inputs = volume(image, entity, config, tz)
    day = inputs["check_day"]
    history = [
        inputs["counts_by_day"].get(day - dt.timedelta(days=7 * k), 0)
        for k in range(1, config.volume_weeks + 1)
    ]
    return median_baseline(history)


def stale_entity(
    image: RawImage,
    tenant: Tenant,
    config: ValidationConfig,
    tz: ZoneInfo,
    rng: np.random.Generator,
) -> Faulted:
    entity = str(rng.choice(CORE_ENTITIES))
    then = image.now - dt.timedelta(hours=STALE_HOURS)
    old = _as_of(tenant, entity, then)
    stale = replace(image, synced_at={**image.synced_at, entity: then})
    return Faulted(
        "stale_entity", "freshness", f"{entity} since {then:%Y-%m-%d %H:00}",
        stale.with_entity(entity, old),
    )  # fmt: skip


def broken_join(
    image: RawImage,
    tenant: Tenant,
    config: ValidationConfig,
    tz: ZoneInfo,
    rng: np.random.Generator,
) -> Faulted:
    join = str(rng.choice([*LINK_JOINS, "jobs_business_units"]))
    child, column = _BROKEN[join]
    ent = image.entities[child]
    if join == "payments_invoices":
        apps = ent.applications
        assert apps is not None
        hit = rng.random(apps.size) < BROKEN_SHARE
        damaged = replace(ent, applications=np.where(hit, UNKNOWN_PARENT, apps))
        n = int(hit.sum())
    else:
        hit = rng.random(ent.rows) < BROKEN_SHARE
        ids = dict(ent.ids)
        ids[column] = np.where(hit, UNKNOWN_PARENT, ids[column])
        texts = dict(ent.texts)
        if "job_number" in texts:  # no number to fall back on either
            texts["job_number"] = [
                None if h else t for h, t in zip(hit, texts["job_number"], strict=True)
            ]
        if child == "gross_pay_items":  # the invoice would link it otherwise
            ids["invoice_id"] = np.where(hit, NULL, ids["invoice_id"])
        damaged = replace(ent, ids=ids, texts=texts)
        n = int(hit.sum())
    return Faulted("broken_join", "join", f"{join} ({n} rows)", image.with_entity(child, damaged))


_BROKEN = {
    "invoices_jobs": ("invoices", "job_id"),
    "payments_invoices": ("payments", ""),
    "estimates_jobs": ("estimates", "job_id"),
    "appointments_jobs": ("appointments", "job_id"),
    "gross_pay_items_jobs": ("gross_pay_items", "job_id"),
    "jobs_business_units": ("jobs", "business_unit_id"),
}

FAULTS: dict[str, Fault] = {
    "lost_window": lost_window,
    "dropped_month": dropped_month,
    "volume_drop": volume_drop,
    "stale_entity": stale_entity,
    "broken_join": broken_join,
}
# The check family each fault is there to test (a fault may be seen by others too).
FAULT_FAMILY = {
    "lost_window": "freshness",
    "dropped_month": "coverage",
    "volume_drop": "volume",
    "stale_entity": "freshness",
    "broken_join": "join",
}
