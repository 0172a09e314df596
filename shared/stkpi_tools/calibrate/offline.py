"""The validations' inputs from a raw image instead of BigQuery, and their verdicts.

Each function here is the SQL file its docstring names, over an image: the same filters,
the same report-time-zone dates, the same rows counted. The date logic around them (which
months and days are judged) is ``stkpi.validation.measures``' own, called, not copied, and
the verdicts are the judges' (``stkpi.validation.judges``), so a calibration measures the
checks the pipeline runs. ``tests/integration/test_calibration_measures.py`` holds these
inputs equal to the SQL's on a tenant copied through the pipeline.

The KPI, reconciliation, pipeline and deletes checks read the marts and the pipeline's own
records, which only the stack builds: they are not judged here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from stkpi.kpi_config import load_bu_map
from stkpi.validation.checks import LINK_JOINS
from stkpi.validation.config import ValidationConfig
from stkpi.validation.judges.completeness import add_months, judge_coverage, judge_volume
from stkpi.validation.judges.freshness import FreshnessHistory, judge_freshness
from stkpi.validation.judges.joins import judge_jobs_business_units, judge_join
from stkpi.validation.measures import date_column, first_unsettled_month
from stkpi.validation.result import CheckResult
from stkpi_tools.calibrate.image import NULL, EntityImage, RawImage

Inputs = dict[str, Any]
HOUR = 3600


def local_days(seconds: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    """DATE(ts, tz) of epoch seconds, as numpy days; the zone's offset per instant."""
    if seconds.size == 0:
        return seconds.astype("datetime64[D]")
    offsets = _offsets(seconds, tz)
    return ((seconds + offsets) // 86_400).astype("datetime64[D]")


def _offsets(seconds: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    """UTC offset in seconds of each instant (per distinct hour: zones change on hours)."""
    hours, inverse = np.unique(seconds // HOUR, return_inverse=True)
    offs = np.array(
        [
            dt.datetime.fromtimestamp(int(h) * HOUR, tz).utcoffset().total_seconds()  # type: ignore[union-attr]
            for h in hours
        ],
        dtype=np.int64,
    )
    return offs[inverse]


def _utc_midnight(day: dt.date) -> int:
    """TIMESTAMP(day): midnight UTC of a DATE, as BigQuery casts it."""
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())


def _present(ent: EntityImage) -> np.ndarray:
    return ent.counted_on[ent.counted_on != NULL]


def today(image: RawImage, tz: ZoneInfo) -> dt.date:
    """The run's date in the report time zone (``Context.today``)."""
    return image.now.astimezone(tz).date()


# -- coverage / volume / freshness -------------------------------------------------------


def coverage(image: RawImage, entity: str, config: ValidationConfig, tz: ZoneInfo) -> Inputs:
    """``measures.coverage`` over ``coverage_monthly.sql``: rows per local month from
    ``month_from``."""
    counted_by = date_column(entity)
    settle = 0 if counted_by == "created_on" else config.coverage_settle_days
    current_month = first_unsettled_month(today(image, tz), settle)
    month_from = add_months(current_month, -(config.coverage_months - 1))
    counted = _present(image.entities[entity])
    early = _utc_midnight(month_from - dt.timedelta(days=1))
    days = local_days(counted[counted >= early], tz)
    days = days[days >= np.datetime64(month_from)]
    months: dict[dt.date, int] = {}
    if days.size:
        firsts, counts = np.unique(days.astype("datetime64[M]"), return_counts=True)
        months = {m.astype(dt.date): int(n) for m, n in zip(firsts, counts, strict=True)}
    return {
        "entity": entity,
        "months": months,
        "current_month": current_month,
        "config": config,
        "required": entity in config.required_entities,
    }


def volume(image: RawImage, entity: str, config: ValidationConfig, tz: ZoneInfo) -> Inputs:
    """``measures.volume`` over ``volume_daily.sql``: the check day and the same weekday
    of the weeks before it."""
    check_day = today(image, tz) - dt.timedelta(days=1)
    first_day = check_day - dt.timedelta(days=7 * config.volume_weeks)
    counted = _present(image.entities[entity])
    lo = _utc_midnight(first_day - dt.timedelta(days=1))
    hi = _utc_midnight(check_day + dt.timedelta(days=2))
    days = local_days(counted[(counted >= lo) & (counted < hi)], tz)
    counts: dict[dt.date, int] = {}
    for day, n in zip(*np.unique(days, return_counts=True), strict=True):
        d = day.astype(dt.date)
        if first_day <= d <= check_day and (check_day - d).days % 7 == 0:
            counts[d] = int(n)
    return {"entity": entity, "check_day": check_day, "counts_by_day": counts, "config": config}


def freshness(image: RawImage, entity: str, config: ValidationConfig) -> Inputs:
    """``measures.freshness``: ``ops/raw_table_stats.sql``'s rows and newest version, the
    entity's last sync, and ``freshness_gaps`` / ``freshness_hourly`` over the weeks
    before its newest version."""
    ent = image.entities[entity]
    modified = ent.modified_on[ent.modified_on != NULL]
    newest = int(modified.max()) if modified.size else None
    history = None
    if entity in config.data_freshness_entities and newest is not None:
        hours = config.freshness_history_weeks * 168
        recent = np.sort(modified[modified > newest - hours * HOUR])
        gaps = np.diff(recent) / 3600.0
        hourly = np.bincount((recent // HOUR) % 168, minlength=168)
        history = FreshnessHistory(
            config.freshness_history_weeks,
            int(recent.size),
            [float(g) for g in gaps[gaps >= 1.0]],
            [int(n) for n in hourly],
        )
    return {
        "entity": entity,
        "now": image.now,
        "sync_now": image.now,
        "row_count": ent.rows,
        "newest_modified": None if newest is None else dt.datetime.fromtimestamp(newest, dt.UTC),
        "last_sync": image.synced_at.get(entity),
        "config": config,
        "history": history,
    }


# -- joins -----------------------------------------------------------------------------


def join(image: RawImage, name: str, config: ValidationConfig) -> Inputs:
    """``measures.join`` over ``join_<name>.sql``: total and linked."""
    total, linked = _JOINS[name](image)
    return {"join": name, "total": total, "linked": linked, "config": config}


def _job_ids(image: RawImage) -> np.ndarray:
    ids = image.entities["jobs"].ids["id"]
    return ids[ids != NULL]


def _linked_to_jobs(image: RawImage, child: str) -> tuple[int, int]:
    """``join_estimates_jobs`` / ``join_appointments_jobs``: jobId among the jobs."""
    refs = image.entities[child].ids["job_id"]
    return int(refs.size), int(np.isin(refs, _job_ids(image)).sum())


def _invoices_jobs(image: RawImage) -> tuple[int, int]:
    """``join_invoices_jobs``: of the active invoices, those with the job id of a known job,
    else a job number that exactly one job has."""
    inv, jobs = image.entities["invoices"], image.entities["jobs"]
    inv = inv.keep(inv.ids["active"] != 0)  # active IS NOT FALSE
    by_id = np.isin(inv.ids["job_id"], _job_ids(image))
    seen: dict[str, int] = {}
    for number in jobs.texts["job_number"]:
        if number is not None:
            seen[number] = seen.get(number, 0) + 1
    unique = {n for n, c in seen.items() if c == 1}
    by_number = np.array([n is not None and n in unique for n in inv.texts["job_number"]])
    linked = by_id | by_number if by_number.size else by_id
    return inv.rows, int(linked.sum())


def _payments_invoices(image: RawImage) -> tuple[int, int]:
    """``join_payments_invoices``: applications whose invoice we have."""
    apps = image.entities["payments"].applications
    assert apps is not None
    invoice_ids = image.entities["invoices"].ids["id"]
    return int(apps.size), int(np.isin(apps, invoice_ids[invoice_ids != NULL]).sum())


def _gross_pay_items_jobs(image: RawImage) -> tuple[int, int]:
    """``join_gross_pay_items_jobs``: job-related items (a jobId or an invoiceId) linked by
    jobId, or without one by the invoice's job."""
    items, inv = image.entities["gross_pay_items"], image.entities["invoices"]
    job_ids = _job_ids(image)
    job, invoice = items.ids["job_id"], items.ids["invoice_id"]
    related = (job != NULL) | (invoice != NULL)
    by_job = np.isin(job, job_ids)
    invoice_job = dict(zip(inv.ids["id"].tolist(), inv.ids["job_id"].tolist(), strict=True))
    known = set(job_ids.tolist())
    by_invoice = np.array(
        [j == NULL and invoice_job.get(i, NULL) in known for j, i in zip(job, invoice, strict=True)]
    )
    linked = by_job | by_invoice if by_invoice.size else by_job
    return int(related.sum()), int((linked & related).sum())


_JOINS = {
    "invoices_jobs": _invoices_jobs,
    "payments_invoices": _payments_invoices,
    "estimates_jobs": lambda image: _linked_to_jobs(image, "estimates"),
    "appointments_jobs": lambda image: _linked_to_jobs(image, "appointments"),
    "gross_pay_items_jobs": _gross_pay_items_jobs,
}


def jobs_business_units(image: RawImage, config: ValidationConfig) -> Inputs:
    """``measures.jobs_business_units`` over ``join_jobs_business_units.sql``: the total
    row and one row per unmapped BU, by the demo's BU map (``sql/seeds/bu_map.csv``), the
    one a local stack writes as the simulated tenant's (stkpi.tenant_maps)."""
    mapped_names = {r.bu_name.lower() for r in load_bu_map()}
    bus = image.entities["jobs"].ids["business_unit_id"]
    unmapped: dict[int, int] = {}
    for bu_id in bus.tolist():
        name = image.business_units.get(bu_id)
        low = None if name is None else name.lower()
        mapped = low is not None and (
            low in mapped_names or low.endswith("-sales") or low.endswith("-production")
        )
        if not mapped:
            unmapped[bu_id] = unmapped.get(bu_id, 0) + 1
    rows: list[Mapping[str, Any]] = [
        {"is_total": True, "jobs": int(bus.size), "business_unit_id": -1, "bu_name": None}
    ]
    rows += [
        {
            "is_total": False,
            "jobs": n,
            "business_unit_id": b,
            "bu_name": image.business_units.get(b),
        }
        for b, n in sorted(unmapped.items(), key=lambda kv: -kv[1])
    ]
    return {"rows": rows, "config": config}


# -- verdicts --------------------------------------------------------------------------


def judge_image(image: RawImage, config: ValidationConfig, tz: ZoneInfo) -> list[CheckResult]:
    """Every check these inputs decide, in the catalogue's order (stkpi.validation.checks):
    freshness, volume, coverage, the joins."""
    out: list[CheckResult] = []
    out += [judge_freshness(**freshness(image, e, config)) for e in config.freshness_entities]
    out += [judge_volume(**volume(image, e, config, tz)) for e in config.volume_entities]
    out += [judge_coverage(**coverage(image, e, config, tz)) for e in config.coverage_entities]
    out += [judge_join(**join(image, j, config)) for j in LINK_JOINS]
    out.append(judge_jobs_business_units(**jobs_business_units(image, config)))
    return out
