"""Render :class:`~stkpi.report.data.ReportData` as one self-contained HTML page.

The page opens on the numbers: a headline table (every KPI, tenant total: this week to
date, last week, the week before, the change and a sparkline), then one block per KPI
with its weeks per BU and per region (a table beside a line chart). The validation
stoplight is one line at the top that links to its detail further down, after the KPIs,
with data freshness and the run history.

The page needs no network and runs no script: charts are inline SVG drawn here
(:mod:`stkpi.report.svg`), styles are inline, and the Content-Security-Policy forbids any
request and any script (a stray URL fails closed instead of leaking). Every value is in
a plain HTML table; charts only add the shape. Weeks end at the current week in the
report time zone, which is marked partial (counted to date); no week after it is shown.

Markup and styles are files under ``templates/``, loaded relative to this module: the
function archives ship ``shared/stkpi/**`` as is (terraform/main.tf), like ``sql/``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from stkpi.kpis import kind_of
from stkpi.report.data import ReportData, Section, current_week_start
from stkpi.report.format import (
    KPI_LABELS,
    PRODUCTION_KPIS,
    SALES_KPIS,
    explain_command,
    format_value,
    week_change,
    week_label,
)
from stkpi.report.reconcile_view import reconciliation_view
from stkpi.report.svg import Series, color, line_chart, sparkline

TEMPLATES = Path(__file__).with_name("templates")
STATUS_ORDER = {"RED": 0, "YELLOW": 1, "GREEN": 2}
BUCKET_NOTES = {
    "unmapped": (
        "Unmapped: jobs whose BU id is not in the business-units reference, or whose BU "
        "name has neither a -Sales nor a -Production suffix. Add the BU to "
        "sql/seeds/bu_map.csv; the join.jobs_business_units validation lists them."
    ),
    "unlinked": "Unlinked: payments and balances of invoices that match no job.",
}
# No script at all: the charts are SVG. default-src 'none' also blocks every fetch.
CSP = (
    "default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; "
    "img-src data:; font-src data:; connect-src 'none'; form-action 'none'; "
    "base-uri 'none'"
)


@dataclass
class Cell:
    text: str
    title: str
    week: str
    value: float | None
    cls: str = ""


@dataclass
class Row:
    name: str
    cells: list[Cell]
    wow: str
    wow_dir: int
    note: str = ""
    flag: str = ""
    color: str = ""


@dataclass
class KpiTable:
    kpi: str
    label: str
    kind: str
    level: str  # "bu" | "region"
    weeks: list[dt.date]
    rows: list[Row] = field(default_factory=list)
    message: str | None = None
    chart: str = ""

    @property
    def dom_id(self) -> str:
        return f"{self.level}-{self.kpi}"


@dataclass(frozen=True)
class Weeks:
    """The weeks the page shows, oldest first, and which of them are compared.

    ``partial`` is True when the last week is the current one (still running). The change
    columns compare the last two *complete* weeks: a week counted to date against a whole
    week would read as a drop every Monday.
    """

    weeks: list[dt.date]
    partial: bool

    @property
    def this_week(self) -> dt.date | None:
        return self.weeks[-1] if self.partial and self.weeks else None

    @property
    def complete(self) -> list[dt.date]:
        return self.weeks[:-1] if self.partial else self.weeks

    @property
    def last(self) -> dt.date | None:
        return self.complete[-1] if self.complete else None

    @property
    def before(self) -> dt.date | None:
        return self.complete[-2] if len(self.complete) > 1 else None

    def label(self, week: dt.date) -> str:
        base = week_label(week)
        return f"{base} (to date)" if self.partial and week == self.weeks[-1] else base


def week_window(data: ReportData) -> Weeks:
    """The last ``data.weeks`` Mondays ending at the current week (report time zone).

    Every week of the span is shown, with or without rows, so a missing week reads as a
    gap. When the marts hold nothing in that span (a stalled tenant), the span ends at the
    newest week they do hold instead, and nothing is partial.
    """
    this_monday = current_week_start(data.generated_at, data.report_timezone)
    have = sorted(
        {
            r["week_start"]
            for s in (data.kpi_bu, data.kpi_region)
            for r in s.rows
            if r["week_start"] <= this_monday
        }
    )
    if not have:
        return Weeks([], False)
    first = this_monday - dt.timedelta(days=7 * (data.weeks - 1))
    end = this_monday if have[-1] >= first else have[-1]
    weeks = [end - dt.timedelta(days=7 * k) for k in range(data.weeks - 1, -1, -1)]
    return Weeks(weeks, end == this_monday)


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def _sort_key(name: str) -> tuple[int, str]:
    return (1 if name in BUCKET_NOTES else 0, name.lower())


def _kpi_tables(
    data: ReportData, section: Section, level: str, kpis: tuple[str, ...], span: Weeks
) -> dict[str, KpiTable]:
    key = "bu" if level == "bu" else "region"
    shown = set(span.weeks)
    by_kpi: dict[str, dict[str, dict[dt.date, dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for r in section.rows:
        if r["week_start"] in shown:
            by_kpi[r["kpi"]][r[key]][r["week_start"]] = r
    tables = {}
    for kpi in kpis:
        kind = kind_of(kpi)
        table = KpiTable(kpi, KPI_LABELS.get(kpi, kpi), kind, level, span.weeks)
        cells_by_name = by_kpi.get(kpi)
        if not section.ok:
            table.message = section.message
        elif not cells_by_name:
            table.message = (
                f"No data for {table.label} in the last {data.weeks} weeks: "
                f"mart table kpi_{kpi} has no rows for them. Check the "
                f"kpi.presence validation and `stkpi kpi-build`."
            )
        else:
            for i, name in enumerate(sorted(cells_by_name, key=_sort_key)):
                row = _row(data, kpi, kind, level, name, cells_by_name[name], span)
                row.color = color(i)
                table.rows.append(row)
            table.chart = line_chart(
                [Series(r.name, [c.value for c in r.cells], r.color) for r in table.rows],
                [week_label(w) for w in span.weeks],
                kind=kind,
                title=f"{table.label} per {'BU' if level == 'bu' else 'region'}, by week",
                partial_last=span.partial,
            )
        tables[kpi] = table
    return tables


def _row(
    data: ReportData,
    kpi: str,
    kind: str,
    level: str,
    name: str,
    by_week: dict[dt.date, dict[str, Any]],
    span: Weeks,
) -> Row:
    cells = []
    for week in span.weeks:
        r = by_week.get(week)
        if r is None:
            cells.append(Cell("\u2013", "no row for this week", week.isoformat(), None, "none"))
            continue
        value = r["value"]
        text = format_value(kind, value)
        if level == "bu":
            title = explain_command(kpi, name, week)
        else:
            bus = sorted(b for b in (r.get("bus") or "").split(",") if b)
            title = "\n".join(explain_command(kpi, b, week) for b in bus)
        if kind == "ratio":
            title = (
                f"{format_value('count', r['numerator'])} / "
                f"{format_value('count', r['denominator'])}\n{title}"
            )
        cls = "na" if value is None else ""
        if span.this_week == week:
            cls += " partial"
        cells.append(Cell(text, title, week.isoformat(), _float(value), cls.strip()))
    prev = by_week.get(span.before) if span.before else None
    last = by_week.get(span.last) if span.last else None
    wow, direction = week_change(
        kind, prev["value"] if prev else None, last["value"] if last else None
    )
    note, flag = "", ""
    if name in BUCKET_NOTES:
        note, flag = BUCKET_NOTES[name], "bucket"
    elif level == "bu" and data.mapped_bus and name not in data.mapped_bus:
        note = "Not in the BU map (sql/seeds/bu_map.csv): role and region taken from its name."
        flag = "unlisted"
    return Row(name, cells, wow, direction, note, flag)


def tenant_totals(
    section: Section, kpi: str, kind: str, weeks: list[dt.date]
) -> list[Decimal | None]:
    """The tenant's value of ``kpi`` per week from its per-BU rows (buckets included).

    Counts and money add up; a ratio is the ratio of the summed numerators and
    denominators (KPIS.md: ratios are ratios of sums), ``None`` when the sum of the
    denominators is 0 or the week has no row.
    """
    value: dict[dt.date, Decimal] = defaultdict(Decimal)
    num: dict[dt.date, Decimal] = defaultdict(Decimal)
    den: dict[dt.date, Decimal] = defaultdict(Decimal)
    seen: set[dt.date] = set()
    for r in section.rows:
        if r["kpi"] != kpi:
            continue
        w = r["week_start"]
        seen.add(w)
        if kind == "ratio":
            num[w] += Decimal(str(r.get("numerator") or 0))
            den[w] += Decimal(str(r.get("denominator") or 0))
        elif r["value"] is not None:
            value[w] += Decimal(str(r["value"]))
    out: list[Decimal | None] = []
    for w in weeks:
        if w not in seen:
            out.append(None)
        elif kind == "ratio":
            out.append(num[w] / den[w] if den[w] else None)
        else:
            out.append(value[w])
    return out


def _headline(data: ReportData, span: Weeks) -> dict[str, Any]:
    """One row per KPI: the tenant total this week (to date), last week, the week before,
    the change between the two complete weeks and a sparkline of every week shown."""
    rows = []
    for role, kpis in (("Sales", SALES_KPIS), ("Production", PRODUCTION_KPIS)):
        for kpi in kpis:
            kind = kind_of(kpi)
            totals = tenant_totals(data.kpi_bu, kpi, kind, span.weeks)
            by_week = dict(zip(span.weeks, totals, strict=True))

            def at(week: dt.date | None, by_week: dict = by_week) -> Decimal | None:
                return by_week.get(week) if week else None

            change, direction = week_change(kind, at(span.before), at(span.last))
            label = KPI_LABELS.get(kpi, kpi)
            rows.append(
                {
                    "kpi": kpi,
                    "label": label,
                    "role": role,
                    "kind": kind,
                    "this": format_value(kind, at(span.this_week)) if span.this_week else "",
                    "last": format_value(kind, at(span.last)),
                    "before": format_value(kind, at(span.before)),
                    "change": change,
                    "dir": direction,
                    "spark": sparkline(
                        [_float(v) for v in totals],
                        title=f"{label}, all BUs, last {len(span.weeks)} weeks",
                        partial_last=span.partial,
                    ),
                }
            )
    return {
        "rows": rows,
        "message": data.kpi_bu.message if not data.kpi_bu.ok else None,
        "this_label": f"week of {week_label(span.this_week)}" if span.this_week else "",
        "last_label": f"week of {week_label(span.last)}" if span.last else "",
        "before_label": f"week of {week_label(span.before)}" if span.before else "",
    }


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
        "checked_at": _ts(checked) if isinstance(checked, dt.datetime) else checked,
        "run_id": run_id,
        "message": section.message,
        "worst": [r for r in rows if r["status"] != "GREEN"][:3],
    }


def _lag(now: dt.datetime, ts: dt.datetime | None) -> str:
    if ts is None:
        return "n/a"
    hours = (now - ts).total_seconds() / 3600
    return f"{hours:.1f} h" if abs(hours) < 48 else f"{hours / 24:.1f} d"


def _ts(ts: Any) -> str:
    if ts is None:
        return ""
    if isinstance(ts, dt.datetime):
        return ts.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(ts)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def view_model(data: ReportData) -> dict[str, Any]:
    """Everything the template needs, already formatted (the template has no logic)."""
    now = data.generated_at
    span = week_window(data)
    freshness = [
        {
            **r,
            "rows_text": "n/a" if r["rows"] is None else f"{r['rows']:,}",
            "newest_text": _ts(r["newest"]),
            "lag": _lag(now, r["newest"]),
            "high_water_text": _ts(r.get("high_water")),
            "synced_text": _ts(r.get("synced_at")),
        }
        for r in data.freshness.rows
    ]
    runs = [
        {
            **r,
            "planned_text": _ts(r.get("planned_at")),
            "rebuilt_text": _ts(r.get("rebuilt_at")) or "not rebuilt",
            "duration": _duration(r.get("duration_s")),
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
        {**r, "duration": _duration((r.get("duration_ms") or 0) / 1000)}
        for r in data.run_entities.rows
    ]
    failures = [
        {**r, "last_text": _ts(r.get("last_seen")), "error": (r.get("error") or "")[:400]}
        for r in data.failures.rows
    ]
    sections = []
    for title, kpis in (("Sales", SALES_KPIS), ("Production", PRODUCTION_KPIS)):
        bu = _kpi_tables(data, data.kpi_bu, "bu", kpis, span)
        region = _kpi_tables(data, data.kpi_region, "region", kpis, span)
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
        "generated": _ts(now),
        "project": data.project,
        "weeks_n": data.weeks,
        "tz": data.report_timezone,
        "week_range": week_range,
        "week_labels": [span.label(w) for w in weeks],
        "week_isos": [w.isoformat() for w in weeks],
        "last_week_partial": span.partial,
        "headline": _headline(data, span),
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


def render_error_page(message: str, *, generated_at: dt.datetime | None = None) -> str:
    """A page that says what went wrong, for when the report itself cannot be built."""
    return (
        _env()
        .get_template("error.html.j2")
        .render(
            message=message,
            generated=_ts(generated_at or dt.datetime.now(dt.UTC)),
            csp=CSP,
        )
    )
