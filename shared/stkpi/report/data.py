"""Gather what the report shows, one SQL file under ``sql/report/`` per question.

Every section is gathered on its own: a missing table or a failing query becomes a
:class:`Section` with a plain-language ``message`` the page shows in place, never an
exception that blanks the page.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from google.api_core.exceptions import NotFound
from google.cloud import bigquery

from stkpi import logs, sqlfiles
from stkpi.config import Settings
from stkpi.kpi_config import WEEK_START, week_of
from stkpi.table_stats import raw_table_stats

log = logs.get(__name__)

RUN_LIMIT = 15
# How far past the current week the KPI marts may reach. dim_weeks runs to the latest dated
# fact, and future appointments and bookings put that weeks or months ahead; the report
# SQL counts its window back from the newest week of the mart, so it asks for this much
# more and :func:`gather` cuts the rows at the current week.
LOOKAHEAD_WEEKS = 60


def current_week_start(now: dt.datetime, timezone: str, weeks_start: str = WEEK_START) -> dt.date:
    """First day of ``now``'s week in the report time zone (the week that is still running).

    Weeks are local (KPIS.md: Monday..Sunday unless the tenant's start on another day), so
    at 20:00 UTC on a Sunday in Phoenix a Monday week is still the one that began six days
    earlier; in UTC it would be the next one.
    """
    return week_of(now.astimezone(ZoneInfo(timezone)).date(), weeks_start)


def cut_future_weeks(section: Section, last_week: dt.date) -> Section:
    """The section without rows of weeks after ``last_week``: a future week is not a week
    with zero sales, it has not happened (the marts carry such weeks with zeros)."""
    if not section.ok:
        return section
    return Section([r for r in section.rows if r["week_start"] <= last_week], section.message)


@dataclass
class Section:
    """Rows of one part of the page, or why there are none."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.message is None


@dataclass
class ReportData:
    generated_at: dt.datetime
    project: str
    weeks: int
    kpi_bu: Section
    kpi_region: Section
    validations: Section
    freshness: Section
    runs: Section
    run_entities: Section
    failures: Section
    mapped_bus: frozenset[str] = frozenset()
    report_timezone: str = "America/Phoenix"
    weeks_start: str = WEEK_START
    # An added tenant's id (None: the deployment's own tenant): its explain commands
    # name it. regions_scope: not empty when the region tables sum every tenant of this
    # tenant's zone and week start (the combined view), saying which.
    tenant: str | None = None
    regions_scope: str = ""
    reconciliation: Section = field(default_factory=Section)


def _why(exc: Exception, what: str, hint: str) -> str:
    if isinstance(exc, NotFound):
        return f"{what}: the table does not exist yet. {hint}"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{what} could not be read ({type(exc).__name__}: {first[:300]}). {hint}"


def _rows(
    client: bigquery.Client, settings: Settings, relpath: str, **params: str
) -> list[dict[str, Any]]:
    sql = sqlfiles.render(f"report/{relpath}", settings, **params).strip().rstrip(";")
    return [dict(r.items()) for r in client.query_and_wait(sql)]


def _section(
    client: bigquery.Client,
    settings: Settings,
    relpath: str,
    *,
    what: str,
    hint: str,
    empty: str,
    **params: str,
) -> Section:
    try:
        rows = _rows(client, settings, relpath, **params)
    except Exception as exc:
        log.warning("report query failed", extra={"file": relpath, "error": str(exc)[:500]})
        return Section([], _why(exc, what, hint))
    return Section(rows, None if rows else empty)


def _kpi_section(this_week: dt.date, *args: Any, **kwargs: Any) -> Section:
    """A KPI section (:func:`_section`) cut at the current week."""
    return cut_future_weeks(_section(*args, **kwargs), this_week)


def _regions(
    this_week: dt.date,
    client: bigquery.Client,
    settings: Settings,
    combined_from: Settings | None,
    weeks: int,
    days: str,
    hint: str,
) -> Section:
    """The region rows: the tenant's own, or the combined view's for its zone and weeks."""
    if combined_from is None:
        return _kpi_section(this_week, client, settings, "kpi_region.sql",
                            what="KPI table kpi_weekly (regions)", hint=hint,
                            empty="The KPI marts are empty: no regions to show.",
                            weeks=str(weeks), days=days)  # fmt: skip
    from stkpi.kpi_config import sql_string

    return _kpi_section(this_week, client, combined_from, "kpi_region_all.sql",
                        what="combined view kpi_weekly_all",
                        hint="`stkpi kpi-build` makes it (so does every rebuild).",
                        empty=f"No tenant of {_regions_scope(settings)} has KPIs yet.",
                        weeks=str(weeks), days=days,
                        time_zone=sql_string(settings.report_timezone),
                        weeks_start=sql_string(settings.weeks_start))  # fmt: skip


def _regions_scope(settings: Settings) -> str:
    return f"all tenants in {settings.report_timezone}, weeks from {settings.weeks_start.title()}"


def _freshness(client: bigquery.Client, settings: Settings) -> Section:
    """Rows and newest ``modifiedOn`` per raw entity, with its sync high-water mark."""
    try:
        marks = {r["entity"]: r for r in _rows(client, settings, "sync_marks.sql")}
    except Exception as exc:
        log.warning("report sync marks failed", extra={"error": str(exc)[:500]})
        marks = {}
    rows = []
    for name, got in raw_table_stats(client, settings).items():
        row: dict[str, Any] = {"entity": name, "rows": None, "newest": None, "note": ""}
        if isinstance(got, NotFound):
            row["note"] = "not ingested yet (no raw table)"
        elif isinstance(got, Exception):
            row["note"] = _why(got, "raw table", "")
        else:
            row["rows"], row["newest"] = got.rows, got.newest
        mark = marks.get(name) or {}
        row["high_water"] = mark.get("high_water")
        row["synced_at"] = mark.get("synced_at")
        rows.append(row)
    if all(r["rows"] in (None, 0) for r in rows):
        return Section(rows, "No raw data yet: run `stkpi backfill ...` (or `./dev demo`).")
    return Section(rows)


def _decode_json(rows: list[dict[str, Any]], *cols: str) -> list[dict[str, Any]]:
    for row in rows:
        for col in cols:
            raw = row.get(col)
            if isinstance(raw, str):
                with contextlib.suppress(ValueError):
                    row[col] = json.loads(raw)
    return rows


def _mapped_bus(client: bigquery.Client, settings: Settings) -> frozenset[str]:
    """The reporting names of the BUs the marts were built with (the tenant's map, as the
    last rebuild wrote it to the dim's seed table)."""
    try:
        return frozenset(r["normalized_name"] for r in _rows(client, settings, "mapped_bus.sql"))
    except Exception:  # no rebuild yet: nothing is mapped
        return frozenset()


def gather(
    client: bigquery.Client,
    settings: Settings,
    *,
    now: dt.datetime,
    weeks: int = 12,
    tenant: str | None = None,
    combined_from: Settings | None = None,
) -> ReportData:
    """Query everything the report shows as of ``now`` (the tenant's present); never raises
    for missing or bad data. ``settings`` are the tenant's (``tenant``: an added tenant's
    id); ``combined_from``, the deployment's: the region tables then sum every tenant of
    this tenant's zone and week start (stkpi.combined)."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    this_week = current_week_start(now, settings.report_timezone, settings.weeks_start)
    days = str(7 * (weeks + LOOKAHEAD_WEEKS))
    marts_hint = "Build the KPI marts: `stkpi kpi-build` (rebuild_dims does it after a run)."
    ops_hint = "No pipeline run has been recorded yet: run `stkpi backfill ...` or `./dev demo`."
    limit = str(RUN_LIMIT)
    validations = _section(
        client,
        settings,
        "validations.sql",
        what="Validation results",
        hint="Run `stkpi validate` to check the data.",
        empty="No validation has run yet: run `stkpi validate`.",
    )
    _decode_json(validations.rows, "numbers", "threshold")
    return ReportData(
        generated_at=now,
        project=settings.gcp_project,
        weeks=weeks,
        kpi_bu=_kpi_section(
            this_week,
            client,
            settings,
            "kpi_bu.sql",
            what="KPI table kpi_weekly",
            hint=marts_hint,
            empty=f"The KPI marts are empty: no weeks to show. {marts_hint}",
            weeks=str(weeks),
            days=days,
        ),
        kpi_region=_regions(this_week, client, settings, combined_from, weeks, days, marts_hint),
        validations=validations,
        freshness=_freshness(client, settings),
        runs=_section(
            client,
            settings,
            "runs.sql",
            what="Run history",
            hint=ops_hint,
            empty=ops_hint,
            limit=limit,
        ),
        run_entities=_section(
            client,
            settings,
            "run_entities.sql",
            what="Windows per entity",
            hint=ops_hint,
            empty="No windows recorded yet.",
            limit=limit,
        ),
        failures=_section(
            client,
            settings,
            "failures.sql",
            what="Failed windows",
            hint=ops_hint,
            empty="No failed or dead-lettered windows.",
            limit="20",
        ),
        mapped_bus=_mapped_bus(client, settings),
        report_timezone=settings.report_timezone,
        weeks_start=settings.weeks_start,
        tenant=tenant,
        regions_scope=_regions_scope(settings) if combined_from else "",
        reconciliation=_section(
            client,
            settings,
            "reconciliation.sql",
            what="Reconciliation with ServiceTitan",
            hint="The daily rebuild reconciles; or run `stkpi reconcile`.",
            empty="No reconciliation with ServiceTitan's reports yet: run `stkpi reconcile` "
            "(the tenant needs rows in sql/seeds/report_map.csv).",
        ),
    )
