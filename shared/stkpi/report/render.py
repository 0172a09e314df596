"""Render :class:`~stkpi.report.data.ReportData` as one self-contained HTML page.

The page needs no network: Plotly's JavaScript is inlined once, every chart is an inline
spec, styles are inline, and a Content-Security-Policy forbids any request (a stray URL
fails closed instead of leaking). Every value is also in a plain HTML table, so the page
reads without JavaScript; charts only add the trend.

Layout (top to bottom): the validation stoplight and data freshness, then Sales and
Production KPIs per BU and per region (a table of the last weeks with the week-over-week
change beside a small-multiple chart), then the run history.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jinja2
import markupsafe

from stkpi.report.data import ReportData, Section
from stkpi.report.format import (
    KPI_LABELS,
    PRODUCTION_KPIS,
    SALES_KPIS,
    explain_command,
    format_value,
    week_change,
    week_label,
)

STATUS_ORDER = {"RED": 0, "YELLOW": 1, "GREEN": 2}
BUCKET_NOTES = {
    "unmapped": (
        "Unmapped: jobs whose BU id is not in the business-units reference, or whose BU "
        "name has neither a -Sales nor a -Production suffix. Add the BU to "
        "sql/seeds/bu_map.csv; the join.jobs_business_units validation lists them."
    ),
    "unlinked": "Unlinked: payments and balances of invoices that match no job.",
}
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
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


@cache
def plotly_js() -> str:
    """Plotly's bundled JavaScript (shipped inside the plotly wheel; no CDN)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def _sort_key(name: str) -> tuple[int, str]:
    return (1 if name in BUCKET_NOTES else 0, name.lower())


def _weeks(section: Section) -> list[dt.date]:
    return sorted({r["week_start"] for r in section.rows})


def _kpi_tables(
    data: ReportData, section: Section, level: str, kpis: tuple[str, ...]
) -> list[KpiTable]:
    key = "bu" if level == "bu" else "region"
    weeks = _weeks(section)
    by_kpi: dict[str, dict[str, dict[dt.date, dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for r in section.rows:
        by_kpi[r["kpi"]][r[key]][r["week_start"]] = r
    tables = []
    for kpi in kpis:
        kind = _kind(kpi)
        table = KpiTable(kpi, KPI_LABELS.get(kpi, kpi), kind, level, weeks)
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
            for name in sorted(cells_by_name, key=_sort_key):
                table.rows.append(_row(data, kpi, kind, level, name, cells_by_name[name], weeks))
            table.chart = _chart(table)
        tables.append(table)
    return tables


def _kind(kpi: str) -> str:
    from stkpi.marts import MONEY_KPIS, RATIO_KPIS

    return "ratio" if kpi in RATIO_KPIS else "money" if kpi in MONEY_KPIS else "count"


def _row(
    data: ReportData,
    kpi: str,
    kind: str,
    level: str,
    name: str,
    by_week: dict[dt.date, dict[str, Any]],
    weeks: list[dt.date],
) -> Row:
    cells = []
    for week in weeks:
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
        cells.append(
            Cell(text, title, week.isoformat(), _float(value), "na" if value is None else "")
        )
    prev = by_week.get(weeks[-2]) if len(weeks) > 1 else None
    last = by_week.get(weeks[-1]) if weeks else None
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


def _chart(table: KpiTable) -> str:
    import plotly.graph_objects as go
    import plotly.io as pio

    fig = go.Figure()
    x = [week_label(w) for w in table.weeks]
    for row in table.rows:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[c.value for c in row.cells],
                name=row.name,
                mode="lines+markers",
                marker={"size": 4},
                line={"width": 1.5},
                connectgaps=False,
            )
        )
    tickformat = {"money": "$,.0f", "ratio": ".0%"}.get(table.kind, ",d")
    fig.update_layout(
        height=200,
        margin={"l": 55, "r": 10, "t": 10, "b": 30},
        showlegend=len(table.rows) > 1,
        legend={"font": {"size": 10}, "orientation": "v"},
        font={"family": "system-ui, sans-serif", "size": 11},
        yaxis={"tickformat": tickformat, "rangemode": "tozero"},
        xaxis={"type": "category"},
        plot_bgcolor="#fafafa",
        paper_bgcolor="white",
    )
    return pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=False,
        div_id=f"chart-{table.dom_id}",
        config={"displayModeBar": False, "responsive": True, "displaylogo": False},
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
        "checked_at": checked,
        "run_id": run_id,
        "message": section.message,
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
        sections.append(
            {
                "title": title,
                "bu": _kpi_tables(data, data.kpi_bu, "bu", kpis),
                "region": _kpi_tables(data, data.kpi_region, "region", kpis),
            }
        )
    weeks = _weeks(data.kpi_bu)
    last_week = weeks[-1] if weeks else None
    partial = bool(last_week and last_week + dt.timedelta(days=7) > now.date())
    return {
        "generated": _ts(now),
        "project": data.project,
        "weeks_n": data.weeks,
        "tz": data.report_timezone,
        "week_range": (
            f"{weeks[0]:%Y-%m-%d} .. {weeks[-1] + dt.timedelta(days=6):%Y-%m-%d}" if weeks else ""
        ),
        "week_labels": [week_label(w) for w in weeks],
        "week_isos": [w.isoformat() for w in weeks],
        "last_week_partial": partial,
        "validations": _validations(data.validations),
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


def render_html(data: ReportData, *, include_js: bool = True) -> str:
    """The whole page as one string (``include_js=False`` leaves Plotly out, for tests)."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(TEMPLATE)
    js = plotly_js() if include_js else ""
    return template.render(**view_model(data), plotly_js=markupsafe.Markup(js)).lstrip()


def render_error_page(message: str, *, generated_at: dt.datetime | None = None) -> str:
    """A page that says what went wrong, for when the report itself cannot be built."""
    env = jinja2.Environment(autoescape=True)
    return env.from_string(ERROR_TEMPLATE).render(
        message=message, generated=_ts(generated_at or dt.datetime.now(dt.UTC)), csp=CSP
    )


STYLE = """
:root { --red:#c62828; --yellow:#f9a825; --green:#2e7d32; --muted:#6b7280; --line:#e5e7eb; }
* { box-sizing: border-box; }
body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #111827; background: #fff; }
header { padding: 12px 20px; border-bottom: 1px solid var(--line); background: #f8fafc; }
header h1 { margin: 0 0 4px; font-size: 20px; }
nav a { margin-right: 14px; color: #1d4ed8; text-decoration: none; }
main { padding: 0 20px 40px; max-width: 1500px; }
h2 { font-size: 17px; margin: 26px 0 8px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 14px; margin: 18px 0 6px; }
h4 { font-size: 13px; margin: 10px 0 4px; color: var(--muted); }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 3px 7px; vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; text-align: left; white-space: nowrap; }
td.num { text-align: right; white-space: nowrap; }
td.na { color: var(--muted); }
td.none { color: #d1d5db; text-align: center; }
td[title] { cursor: help; }
.badge { display: inline-block; min-width: 62px; text-align: center; padding: 1px 6px;
  border-radius: 10px; color: #fff; font-weight: 700; font-size: 11px; }
.RED { background: var(--red); } .YELLOW { background: var(--yellow); color: #111; }
.GREEN { background: var(--green); }
.stoplight { display: flex; gap: 10px; align-items: center; margin: 8px 0; font-size: 14px; }
.light { width: 22px; height: 22px; border-radius: 50%; display: inline-block; opacity: .2;
  border: 1px solid #9ca3af; }
.light.on { opacity: 1; }
.message { padding: 8px 12px; border-left: 4px solid var(--yellow); background: #fffbeb;
  margin: 6px 0; max-width: 1100px; }
.kpi { display: grid; grid-template-columns: minmax(0, 1fr) 440px; gap: 16px;
  align-items: start; border-bottom: 1px dashed var(--line); padding-bottom: 8px; }
.kpi .tbl { overflow-x: auto; min-width: 0; }
.kpi .chart { width: 440px; min-height: 40px; padding-top: 22px; }
@media (max-width: 1000px) { .kpi { grid-template-columns: minmax(0, 1fr); } }
.up { color: var(--green); } .down { color: var(--red); }
.flag { color: var(--muted); font-size: 11px; }
.bucket td:first-child, .unlisted td:first-child { font-style: italic; }
.small { font-size: 11px; color: var(--muted); }
.mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 11px; }
details summary { cursor: pointer; color: #1d4ed8; }
.grid2 { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.numbers { max-width: 520px; word-break: break-word; }
"""

KPI_MACRO = """
{% macro kpi_table(t, row_label) %}
<div class="kpi" id="{{ t.dom_id }}">
  <div class="tbl">
  <h4>{{ t.label }} <span class="small">({{ t.kind }}; per {{ row_label }})</span></h4>
  {% if t.message %}<p class="message">{{ t.message }}</p>{% else %}
  <table class="kpi-table" data-kpi="{{ t.kpi }}" data-level="{{ t.level }}">
    <thead><tr><th>{{ row_label }}</th>
      {% for w in week_labels %}<th title="week of {{ week_isos[loop.index0] }}">{{ w }}{% if loop.last and last_week_partial %}*{% endif %}</th>{% endfor %}
      <th title="last week vs the week before">WoW</th></tr></thead>
    <tbody>
    {% for r in t.rows %}
      <tr class="{{ r.flag }}" data-row="{{ r.name }}">
        <th scope="row"{% if r.note %} title="{{ r.note }}"{% endif %}>{{ r.name }}{% if r.flag %} <span class="flag">{{ '⚠' if r.flag == 'bucket' else '†' }}</span>{% endif %}</th>
        {% for c in r.cells %}<td class="num {{ c.cls }}" data-kpi="{{ t.kpi }}" data-{{ t.level }}="{{ r.name }}" data-week="{{ c.week }}" title="{{ c.title }}">{{ c.text }}</td>{% endfor %}
        <td class="num {{ 'up' if r.wow_dir > 0 else 'down' if r.wow_dir < 0 else '' }}" data-wow="{{ r.name }}">{{ r.wow }}</td>
      </tr>
    {% endfor %}
    </tbody>
  </table>
  {% set notes = t.rows | selectattr('note') | list %}
  {% for r in notes %}<div class="small">{{ '⚠' if r.flag == 'bucket' else '†' }} {{ r.name }}: {{ r.note }}</div>{% endfor %}
  <details class="small"><summary>explain commands (latest week)</summary>
    <div class="mono">{% for r in t.rows %}{% set c = r.cells[-1] %}{% for line in c.title.split('\n') if line.startswith('stkpi') %}{{ line }}<br>{% endfor %}{% endfor %}</div>
  </details>
  {% endif %}
  </div>
  {% if t.chart %}<div class="chart">{{ t.chart | safe }}</div>{% endif %}
</div>
{% endmacro %}
"""

TEMPLATE = (
    KPI_MACRO
    + """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>st-kpi weekly KPI report</title>
<style>"""
    + STYLE
    + """</style>
{% if plotly_js %}<script>{{ plotly_js }}</script>{% endif %}
</head><body>
<header>
  <h1>Weekly KPIs per business unit</h1>
  <div class="small">Project {{ project }} · generated {{ generated }} · weeks (Monday..Sunday, {{ tz }}) {{ week_range or 'none' }}{% if last_week_partial %} · * week still in progress{% endif %}</div>
  <nav><a href="#health">Health</a><a href="#freshness">Freshness</a>{% for s in sections %}<a href="#{{ s.title | lower }}">{{ s.title }}</a>{% endfor %}<a href="#runs">Run history</a></nav>
  <noscript><p class="small">JavaScript is off: charts are hidden; every value is in the tables.</p></noscript>
</header>
<main>
<section id="health">
  <h2>Validation stoplight</h2>
  {% set v = validations %}
  {% if v.message %}<p class="message">{{ v.message }}</p>{% else %}
  <div class="stoplight" id="overall" data-status="{{ v.overall }}">
    <span class="light RED{{ ' on' if v.overall == 'RED' }}"></span>
    <span class="light YELLOW{{ ' on' if v.overall == 'YELLOW' }}"></span>
    <span class="light GREEN{{ ' on' if v.overall == 'GREEN' }}"></span>
    <strong>Overall {{ v.overall }}</strong>
    <span>{{ v.counts.RED }} red · {{ v.counts.YELLOW }} yellow · {{ v.counts.GREEN }} green</span>
    <span class="small">checked {{ v.checked_at }} (run {{ v.run_id }})</span>
  </div>
  <table id="validations">
    <thead><tr><th>Status</th><th>Check</th><th>Message</th><th>Numbers</th><th>Next step</th></tr></thead>
    <tbody>
    {% for r in v.rows %}
      <tr data-check="{{ r.check_name }}"><td><span class="badge {{ r.status }}">{{ r.status }}</span></td>
        <td class="mono">{{ r.check_name }}</td><td>{{ r.message }}</td>
        <td class="mono numbers">{% if r.numbers_text|length > 160 %}<details><summary>{{ r.numbers_text[:100] }}…</summary>{{ r.numbers_text }}</details>{% else %}{{ r.numbers_text }}{% endif %}</td>
        <td class="mono">{{ r.next_step or '' }}</td></tr>
    {% endfor %}
    </tbody>
  </table>
  {% endif %}
</section>
<section id="freshness">
  <h2>Data freshness per entity</h2>
  {% if freshness_message %}<p class="message">{{ freshness_message }}</p>{% endif %}
  {% if freshness %}
  <table>
    <thead><tr><th>Entity</th><th>Rows</th><th>Newest modifiedOn</th><th>Age</th><th>Synced up to</th><th>Last sync</th><th>Note</th></tr></thead>
    <tbody>
    {% for r in freshness %}
      <tr data-entity="{{ r.entity }}"><td>{{ r.entity }}</td><td class="num">{{ r.rows_text }}</td><td>{{ r.newest_text }}</td><td class="num">{{ r.lag }}</td><td>{{ r.high_water_text }}</td><td>{{ r.synced_text }}</td><td class="small">{{ r.note or '' }}</td></tr>
    {% endfor %}
    </tbody>
  </table>
  {% endif %}
</section>
{% for s in sections %}
<section id="{{ s.title | lower }}">
  <h2>{{ s.title }} KPIs</h2>
  <p class="small">Hover a value for the <span class="mono">stkpi explain</span> command that lists its records. Money in dollars, ratios in percent (ratio of the week's sums). WoW: last week vs the week before (ratios in percentage points).</p>
  <h3>Per business unit</h3>
  {% for t in s.bu %}{{ kpi_table(t, 'BU') }}{% endfor %}
  <h3>Per region</h3>
  {% for t in s.region %}{{ kpi_table(t, 'Region') }}{% endfor %}
</section>
{% endfor %}
<section id="runs">
  <h2>Run history</h2>
  {% if runs_message %}<p class="message">{{ runs_message }}</p>{% else %}
  <table id="run-table">
    <thead><tr><th>Run</th><th>Type</th><th>Planned</th><th>Entities</th><th>Windows</th><th>Loaded</th><th>Failed</th><th>Records</th><th>Rebuilt</th><th>Duration</th><th>State</th></tr></thead>
    <tbody>
    {% for r in runs %}
      <tr data-run="{{ r.run_id }}"><td class="mono">{{ r.run_id }}</td><td>{{ r.run_type or '' }}</td><td>{{ r.planned_text }}</td><td class="small">{{ r.entities or '' }}</td><td class="num">{{ r.windows or 0 }}</td><td class="num">{{ r.loaded }}</td><td class="num">{{ r.failed }}</td><td class="num">{{ r.records_text }}</td><td>{{ r.rebuilt_text }}</td><td class="num">{{ r.duration }}</td><td>{{ r.state }}</td></tr>
    {% endfor %}
    </tbody>
  </table>
  {% endif %}
  <div class="grid2">
  <div>
  <h3>Windows and records per entity</h3>
  {% if run_entities_message %}<p class="message">{{ run_entities_message }}</p>{% else %}
  <table id="run-entities">
    <thead><tr><th>Run</th><th>Entity</th><th>Windows</th><th>Loaded</th><th>Failed</th><th>Records</th><th>Pages</th><th>Rows merged</th><th>Step time</th></tr></thead>
    <tbody>
    {% for r in run_entities %}
      <tr><td class="mono">{{ r.run_id }}</td><td>{{ r.entity }}</td><td class="num">{{ r.windows }}</td><td class="num">{{ r.loaded }}</td><td class="num">{{ r.failed }}</td><td class="num">{{ '{:,}'.format(r.records or 0) }}</td><td class="num">{{ r.pages }}</td><td class="num">{{ r.rows_merged }}</td><td class="num">{{ r.duration }}</td></tr>
    {% endfor %}
    </tbody>
  </table>
  {% endif %}
  </div>
  <div>
  <h3>Failures</h3>
  {% if failures_message %}<p class="message">{{ failures_message }}</p>{% else %}
  <table id="failures">
    <thead><tr><th>Run</th><th>Entity</th><th>Window</th><th>State</th><th>Last seen</th><th>Error</th></tr></thead>
    <tbody>
    {% for r in failures %}
      <tr><td class="mono">{{ r.run_id }}</td><td>{{ r.entity }}</td><td class="mono">{{ r.window_id }}</td><td>{{ r.state }}</td><td>{{ r.last_text }}</td><td class="mono small">{{ r.error }}</td></tr>
    {% endfor %}
    </tbody>
  </table>
  {% endif %}
  </div>
  </div>
</section>
</main>
</body></html>
"""
)

ERROR_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<title>st-kpi weekly KPI report: not available</title>
<style>body { font: 14px system-ui, sans-serif; margin: 40px; }
.message { padding: 10px 14px; border-left: 4px solid #c62828; background: #fef2f2; }</style>
</head><body>
<h1>Weekly KPI report</h1>
<p class="message">The report could not be built: {{ message }}</p>
<p>Generated {{ generated }}.</p>
</body></html>
"""
