"""The KPI tables of the report: per KPI, its weeks per BU or region (with the hover text
that lists the records behind each cell and a line chart), and the headline of tenant
totals with sparklines. Built from :class:`~stkpi.report.data.ReportData` for the
template; everything is formatted here so the template has no logic."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from stkpi.kpis import kind_of
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
from stkpi.report.svg import Series, color, line_chart, sparkline
from stkpi.report.weeks import Weeks

BUCKET_NOTES = {
    "unmapped": (
        "Unmapped: jobs whose BU id is not in the business-units reference, or whose BU "
        "name has neither a -Sales nor a -Production suffix. Map the BU with `stkpi tenant "
        "map-bu`; the kpi.bu_map and join.jobs_business_units validations list them."
    ),
    "unlinked": "Unlinked: payments and balances of invoices that match no job.",
}


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


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def _sort_key(name: str) -> tuple[int, str]:
    return (1 if name in BUCKET_NOTES else 0, name.lower())


def kpi_tables(
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
            title = explain_command(kpi, name, week, data.tenant)
        elif r.get("tenant_ids"):  # the combined view: a sum over tenants
            tenants = ", ".join(sorted(str(r["tenant_ids"]).split(",")))
            title = f"sum over tenants {tenants}; `stkpi explain ... --tenant ID` explains each"
        else:
            bus = sorted(b for b in (r.get("bus") or "").split(",") if b)
            title = "\n".join(explain_command(kpi, b, week, data.tenant) for b in bus)
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
        note = (
            "Not in the tenant's BU map (`stkpi tenant show`): role and region taken from its name."
        )
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


def headline(data: ReportData, span: Weeks) -> dict[str, Any]:
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
