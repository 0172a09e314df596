"""Render :class:`~stkpi.report.data.ReportData` as one self-contained HTML page.

The page opens on the numbers: a headline table (every KPI, tenant total: this week to
date, last week, the week before, the change and a sparkline), then one block per KPI
with its weeks per BU and per region (a table beside a line chart). The validation
stoplight is one line at the top that links to its detail further down, after the KPIs,
with data freshness and the run history.

The page needs no network and runs no script: charts are inline SVG
(:mod:`stkpi.report.svg`), styles are inline, and the Content-Security-Policy forbids any
request and any script (a stray URL fails closed instead of leaking). Every value is in
a plain HTML table; charts only add the shape. Weeks end at the current week in the
report time zone, which is marked partial (counted to date); no week after it is shown.

This module assembles the page's view model: the KPI tables and headline come from
:mod:`stkpi.report.kpi_tables`, the weeks shown from :mod:`stkpi.report.weeks`, the
number formats from :mod:`stkpi.report.format`. Markup and styles are files under
``templates/``, loaded relative to this module: the function archives ship
``shared/stkpi/**`` as is (terraform/main.tf), like ``sql/``.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from stkpi.report.data import ReportData, Section
from stkpi.report.format import (
    KPI_LABELS,
    PRODUCTION_KPIS,
    SALES_KPIS,
    duration,
    lag,
    timestamp,
    week_days,
    week_label,
)
from stkpi.report.kpi_tables import headline, kpi_tables
from stkpi.report.reconcile_view import reconciliation_view
from stkpi.report.weeks import week_window

TEMPLATES = Path(__file__).with_name("templates")
STATUS_ORDER = {"RED": 0, "YELLOW": 1, "GREEN": 2}


# No script at all: the charts are SVG. default-src 'none' also blocks every fetch.
CSP = (
    "default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; "
    "img-src data:; font-src data:; connect-src 'none'; form-action 'none'; "
    "base-uri 'none'"
)


def _validations(section: Section) -> dict[str, Any]:
    rows = sorted(section.rows, key=lambda r: (STATUS_ORDER.get(r["status"], 3), r["check_name"]))
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("RED", "YELLOW", "GREEN")}
    for r in rows:
        numbers = r.get("numbers")
        r["numbers_text"] = (
            json.dumps(numbers, default=str, sort_keys=True)
            if isinstance(numbers, dict | list)
            else (numbers or "")
        )
    overall = next((s for s in ("RED", "YELLOW", "GREEN") if counts[s]), None)
    checked = rows[0]["checked_at"] if rows else None
    run_id = rows[0]["run_id"] if rows else None
    return {
        "rows": rows,
        "counts": counts,
        "overall": overall,
        "checked_at": timestamp(checked) if isinstance(checked, dt.datetime) else checked,
        "run_id": run_id,
        "message": section.message,
        "worst": [r for r in rows if r["status"] != "GREEN"][:3],
    }


def view_model(data: ReportData) -> dict[str, Any]:
    """Everything the template needs, already formatted (the template has no logic)."""
    now = data.generated_at
    span = week_window(data)
    freshness = [
        {
            **r,
            "rows_text": "n/a" if r["rows"] is None else f"{r['rows']:,}",
            "newest_text": timestamp(r["newest"]),
            "lag": lag(now, r["newest"]),
            "high_water_text": timestamp(r.get("high_water")),
            "synced_text": timestamp(r.get("synced_at")),
        }
        for r in data.freshness.rows
    ]
    runs = [
        {
            **r,
            "planned_text": timestamp(r.get("planned_at")),
            "rebuilt_text": timestamp(r.get("rebuilt_at")) or "not rebuilt",
            "duration": duration(r.get("duration_s")),
            "records_text": f"{int(r.get('records') or r.get('window_records') or 0):,}",
            "state": (
                "failed windows"
                if r.get("failed")
                else "rebuilt"
                if r.get("rebuilt_at")
                else "in progress"
            ),
        }
        for r in data.runs.rows
    ]
    run_entities = [
        {**r, "duration": duration((r.get("duration_ms") or 0) / 1000)}
        for r in data.run_entities.rows
    ]
    failures = [
        {**r, "last_text": timestamp(r.get("last_seen")), "error": (r.get("error") or "")[:400]}
        for r in data.failures.rows
    ]
    sections = []
    for title, kpis in (("Sales", SALES_KPIS), ("Production", PRODUCTION_KPIS)):
        bu = kpi_tables(data, data.kpi_bu, "bu", kpis, span)
        region = kpi_tables(data, data.kpi_region, "region", kpis, span)
        sections.append(
            {
                "title": title,
                "kpis": [
                    {"kpi": k, "label": KPI_LABELS.get(k, k), "bu": bu[k], "region": region[k]}
                    for k in kpis
                ],
            }
        )
    weeks = span.weeks
    if not weeks:
        week_range = ""
    elif span.partial:
        week_range = (
            f"{weeks[0]:%b} {weeks[0].day} .. week of {week_label(weeks[-1])} (partial, to date)"
        )
    else:
        end = weeks[-1] + dt.timedelta(days=6)
        week_range = f"{weeks[0]:%b} {weeks[0].day} .. {end:%b} {end.day} (no newer data)"
    return {
        "generated": timestamp(now),
        "project": data.project,
        "weeks_n": data.weeks,
        "tz": data.report_timezone,
        "week_days": week_days(data.weeks_start),
        "tenant": data.tenant,
        "regions_scope": data.regions_scope,
        "week_range": week_range,
        "week_labels": [span.label(w) for w in weeks],
        "week_isos": [w.isoformat() for w in weeks],
        "last_week_partial": span.partial,
        "headline": headline(data, span),
        "validations": _validations(data.validations),
        "reconciliation": reconciliation_view(data.reconciliation),
        "freshness": freshness,
        "freshness_message": data.freshness.message,
        "runs": runs,
        "runs_message": data.runs.message,
        "run_entities": run_entities,
        "run_entities_message": data.run_entities.message,
        "failures": failures,
        "failures_message": data.failures.message,
        "sections": sections,
        "csp": CSP,
    }


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(data: ReportData) -> str:
    """The whole page as one string."""
    return _env().get_template("report.html.j2").render(**view_model(data)).lstrip()


def render_error_page(message: str, *, generated_at: dt.datetime) -> str:
    """A page that says what went wrong, for when the report itself cannot be built."""
    return (
        _env()
        .get_template("error.html.j2")
        .render(
            message=message,
            generated=timestamp(generated_at),
            csp=CSP,
        )
    )
