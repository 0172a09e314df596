"""The BigQuery side of the checks: each function runs a check's queries and shapes the rows
into the keyword arguments of its judge (stkpi.validation.checks pairs them).

A measure is ``(ctx, subject, shared) -> judge kwargs``: ``subject`` is the entity or join
of a check that runs per subject (None otherwise), ``shared`` what its :class:`Shared`
measurement read once for all subjects (empty without one). Nothing here decides a status.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from google.api_core.exceptions import NotFound

from stkpi import sqlfiles
from stkpi.kpi_config import sql_string
from stkpi.quarantine import open_records
from stkpi.registry import get_entity
from stkpi.table_stats import key_expression
from stkpi.tenant_maps import read_bu_map, read_report_map
from stkpi.validation.context import Context
from stkpi.validation.fmt import as_date, jsonable, sql_path
from stkpi.validation.judges.completeness import add_months
from stkpi.validation.judges.deletes import WEEKS
from stkpi.validation.judges.freshness import FreshnessHistory
from stkpi.validation.judges.kpis import KpiRow, judge_marts_missing, kpi_weeks, roles_from_rows
from stkpi.validation.result import CheckResult

Inputs = dict[str, Any]
Shared = Mapping[str, Any]


def date_column(entity: str) -> str:
    """The column an entity's records are counted by day and month on: the date it is
    partitioned on (``created_on``, or the business date of payroll and purchasing, which
    the validations' settle days are calibrated for), else ``created_on``."""
    ent = get_entity(entity)
    if ent.partition_field:
        return ent.partition_field
    if "created_on" in {c.name for c in ent.columns}:
        return "created_on"
    raise ValueError(f"{entity} has no date column to count by")


def _ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S+00")


# -- coverage / volume / freshness ----------------------------------------------------------


def first_unsettled_month(today: dt.date, settle_days: int) -> dt.date:
    """The first month not judged yet: the one holding the day ``settle_days`` ago (months
    before it ended at least that long ago)."""
    return (today - dt.timedelta(days=settle_days)).replace(day=1)


def coverage(ctx: Context, entity: str, _: Shared) -> Inputs:
    # Months before ``current_month`` are judged. A record counted by its creation exists
    # from the day it is counted on; one counted by another date (the day worked) may be
    # created weeks later, so its month waits until it has settled.
    counted_by = date_column(entity)
    settle = 0 if counted_by == "created_on" else ctx.config.coverage_settle_days
    current_month = first_unsettled_month(ctx.today, settle)
    month_from = add_months(current_month, -(ctx.config.coverage_months - 1))
    rows = ctx.query(
        "coverage_monthly",
        {"month_from": month_from.isoformat()},
        table=entity,
        date_column=counted_by,
    )
    return {
        "entity": entity,
        "months": {as_date(r["month"]): int(r["row_count"]) for r in rows},
        "current_month": current_month,
        "config": ctx.config,
        "required": entity in ctx.config.required_entities,
    }


def volume(ctx: Context, entity: str, _: Shared) -> Inputs:
    check_day = ctx.today - dt.timedelta(days=1)  # the latest complete day
    first_day = check_day - dt.timedelta(days=7 * ctx.config.volume_weeks)
    rows = ctx.query(
        "volume_daily",
        {"first_day": first_day.isoformat(), "check_day": check_day.isoformat()},
        table=entity,
        date_column=date_column(entity),
    )
    counts = {as_date(r["day"]): int(r["row_count"]) for r in rows}
    return {"entity": entity, "check_day": check_day, "counts_by_day": counts, "config": ctx.config}


def last_syncs(ctx: Context) -> dict[str, dict[str, Any]]:
    """Entity -> its ``sync_state`` row (``freshness_sync.sql``), read once for all."""
    return {r["entity"]: r for r in ctx.query("freshness_sync")}


def freshness(ctx: Context, entity: str, syncs: Shared) -> Inputs:
    totals = ctx.raw_stats[entity]
    if isinstance(totals, Exception):
        raise totals  # judged like any query of this check that failed (a missing table)
    history = None
    if entity in ctx.config.data_freshness_entities and totals.newest:
        history = freshness_history(ctx, entity)
    return {
        "entity": entity,
        "now": ctx.now,
        "sync_now": ctx.machine_now,
        "row_count": totals.rows,
        "newest_modified": totals.newest,
        "last_sync": syncs.get(entity, {}).get("last_sync"),
        "config": ctx.config,
        "history": history,
    }


def freshness_history(ctx: Context, entity: str) -> FreshnessHistory:
    """The entity's change gaps and its changes per hour of the week over the weeks before
    its newest record (``freshness_gaps.sql``, ``freshness_hourly.sql``)."""
    weeks = ctx.config.freshness_history_weeks
    rows = ctx.query("freshness_gaps", table=entity, hours=str(weeks * 168), min_gap_hours="1.0")
    records = next((int(r["records"] or 0) for r in rows if r["is_total"]), 0)
    gaps = [float(r["gap_hours"]) for r in rows if not r["is_total"]]
    hourly = [0] * 168
    for r in ctx.query("freshness_hourly", table=entity, hours=str(weeks * 168)):
        hourly[int(r["hour_of_week"])] += int(r["records"] or 0)
    return FreshnessHistory(weeks, records, gaps, hourly)


# -- joins ----------------------------------------------------------------------------------


def join(ctx: Context, join: str, _: Shared) -> Inputs:
    row = ctx.query(f"join_{join}")[0]
    total, linked = int(row.pop("total") or 0), int(row.pop("linked") or 0)
    return {
        "join": join,
        "total": total,
        "linked": linked,
        "config": ctx.config,
        "extra": {k: jsonable(v) for k, v in row.items()},
        "next_step": sql_path(f"join_{join}"),
    }


def jobs_business_units(ctx: Context, _: None, __: Shared) -> Inputs:
    """Jobs whose BU the marts' BU map (the tenant's, as the last rebuild wrote it to the
    dim's seed table) does not list and whose name gives no role."""
    try:
        names = [r["bu_name"].lower() for r in ctx.query("bu_map_names")]
    except NotFound:  # no rebuild yet
        names = []
    rows = ctx.query(
        "join_jobs_business_units",
        bu_map_names=", ".join(sql_string(n) for n in names) or "NULL",
    )
    return {"rows": rows, "config": ctx.config}


# -- KPIs and reconciliation ----------------------------------------------------------------


def kpis(ctx: Context, _: None, __: Shared) -> Inputs:
    """The recent ``kpi_weekly`` rows and each BU's role; NotFound when the marts are
    missing (the check's ``if_missing`` says so)."""
    weeks = kpi_weeks(ctx.today, ctx.config.kpi_weeks, ctx.settings.weeks_start)
    raw_rows = ctx.query(
        "kpi_weekly_recent", {"week_from": weeks[0].isoformat(), "week_to": weeks[-1].isoformat()}
    )
    rows = [
        KpiRow(
            week_start=as_date(r["week_start"]),
            bu=r["bu"],
            kpi=r["kpi"],
            kind=r.get("kind"),
            value=None if r["value"] is None else float(r["value"]),
            denominator=None if r.get("denominator") is None else float(r["denominator"]),
        )
        for r in raw_rows
    ]
    try:
        bu_roles = {r["bu"]: r["role"] for r in ctx.query("kpi_business_units")}
    except NotFound:
        bu_roles = roles_from_rows(rows, ctx.config)
    return {
        "rows": rows,
        "bu_roles": bu_roles,
        "weeks": weeks,
        "config": ctx.config,
        "today": ctx.today,
    }


def kpis_missing(ctx: Context, error: Exception) -> list[CheckResult]:
    return judge_marts_missing(ctx.settings.dataset("mart"), error)


def reconciliation(ctx: Context, _: None, __: Shared) -> Inputs:
    try:
        rows = ctx.query("reconciliation_latest")
    except NotFound:  # datasets from before the table existed
        rows = []
    tenant = ctx.settings.st_tenant_id
    mapped = bool(tenant and read_report_map(ctx.client, ctx.settings, str(tenant)))
    return {"rows": rows, "config": ctx.config, "has_report_map": mapped}


def bu_map(ctx: Context, _: None, __: Shared) -> Inputs:
    """The tenant's BU map and its business units as copied from ServiceTitan."""
    tenant = ctx.settings.st_tenant_id
    try:
        units = ctx.query("business_units_current")
    except NotFound:  # nothing copied yet
        units = []
    found = read_bu_map(ctx.client, ctx.settings, str(tenant)) if tenant else None
    return {"tenant_id": tenant, "bu_map": found, "business_units": units}


# -- pipeline -------------------------------------------------------------------------------


def _since(ctx: Context) -> str:
    return _ts(ctx.machine_now - dt.timedelta(hours=ctx.config.pipeline_lookback_hours))


def failed_windows(ctx: Context, _: None, __: Shared) -> Inputs:
    rows = ctx.query("pipeline_failed_windows", {"since": _since(ctx)})
    return {"rows": rows, "config": ctx.config}


def stuck_windows(ctx: Context, _: None, __: Shared) -> Inputs:
    stuck_before = _ts(ctx.machine_now - dt.timedelta(hours=ctx.config.stuck_window_hours))
    rows = ctx.query("pipeline_stuck_windows", {"since": _since(ctx), "stuck_before": stuck_before})
    return {"rows": rows, "config": ctx.config}


def runs_without_rebuild(ctx: Context, _: None, __: Shared) -> Inputs:
    planned_before = _ts(ctx.machine_now - dt.timedelta(hours=ctx.config.rebuild_grace_hours))
    rows = ctx.query(
        "pipeline_runs_without_rebuild", {"since": _since(ctx), "planned_before": planned_before}
    )
    return {"rows": rows, "config": ctx.config}


def duplicate_keys(ctx: Context, _: None, __: Shared) -> Inputs:
    """Per raw table whose rows outnumber its keys: how many rows and keys, and the first
    duplicated keys (``raw_duplicate_keys.sql``). Tables that could not be read are left
    to the freshness check, which names them."""
    doubled: dict[str, dict[str, Any]] = {}
    for name, stats in ctx.raw_stats.items():
        if isinstance(stats, Exception) or stats.keys is None or stats.rows <= stats.keys:
            continue
        entity = get_entity(name)
        rows = ctx.query("raw_duplicate_keys", table=entity.raw_table, key=key_expression(entity))
        doubled[name] = {
            "rows": stats.rows,
            "keys": stats.keys,
            "sample": [{k: jsonable(v) for k, v in r.items()} for r in rows],
        }
    return {"doubled": doubled}


def quarantine(ctx: Context, _: None, __: Shared) -> Inputs:
    """Quarantined records not copied since (``stkpi.quarantine.open_records``)."""
    try:
        records = open_records(ctx.query, ctx.now)
    except NotFound:  # datasets from before the table existed: nothing was quarantined
        records = []
    return {"records": records}


def dead_letters(ctx: Context, _: None, __: Shared) -> Inputs:
    assert ctx.dead_letters is not None  # the check runs only with a counter (checks.py)
    return {"counts": ctx.dead_letters()}


# -- deletes --------------------------------------------------------------------------------


def latest_scans(client: Any, settings: Any) -> dict[str, dict[str, Any]]:
    """Entity -> its latest ``keys_scanned`` event (``sql/ops/key_scans_latest.sql``)."""
    sql = sqlfiles.render("ops/key_scans_latest.sql", settings)
    return {r["entity"]: dict(r.items()) for r in client.query_and_wait(sql)}


def scans(ctx: Context) -> dict[str, dict[str, Any]]:
    return latest_scans(ctx.client, ctx.settings)


def deletes(ctx: Context, entity: str, scans: Shared) -> Inputs:
    since = (ctx.today - dt.timedelta(days=7 * WEEKS)).isoformat()
    rows = ctx.query("deletes_weekly", {"since": since}, table=entity)
    weekly = {as_date(r["week_start"]): int(r["deleted"]) for r in rows}
    return {"entity": entity, "scan": scans.get(entity), "weekly": weekly}
