"""One reconciliation: fetch ServiceTitan's reports, read our side, compare, store.

ServiceTitan's side costs one call per report for the whole range (the aggregate report
and one row-level report per KPI); its weekly values are the sums of its rows per week,
and its aggregate report over the range checks that those rows are the report's (a
mapping to the wrong field shows up as unexplained). Our side is ``kpi_weekly`` and
``sql/marts/explain/reconcile_records.sql``. Results go to ``${ops}.reconciliation``
(append-only, streaming inserts, like ``validation_results``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from google.cloud import bigquery

from stkpi import logs
from stkpi.config import Settings
from stkpi.errors import ConfigError
from stkpi.kpi_config import BuMapRow, sql_string
from stkpi.reconcile.compare import CellResult, OurRecord, StRecord, compare, week_of
from stkpi.reconcile.mapping import KpiSources, ReportSource
from stkpi.reconcile.reports_api import ReportFetcher
from stkpi.sqlfiles import render

log = logs.get(__name__)

SUFFIXES = ("-Sales", "-Production")


def last_complete_weeks(today: dt.date, n: int = 2) -> list[dt.date]:
    """The Mondays of the ``n`` complete weeks before ``today``'s week, oldest first."""
    this_monday = week_of(today)
    return [this_monday - dt.timedelta(weeks=k) for k in range(n, 0, -1)]


def our_bu(name: str | None, bu_map: Sequence[BuMapRow]) -> str:
    """Our BU name for ServiceTitan's BU name, by the KPI rules (KPIS.md, role gating)."""
    if not name:
        return "unmapped"
    for row in bu_map:
        if row.bu_name.lower() == name.lower():
            return row.normalized_name
    return name if name.endswith(SUFFIXES) else "unmapped"


def _index(src: ReportSource, fields: list[str], names: Sequence[str]) -> list[int]:
    missing = [n for n in names if n and n not in fields]
    if missing:
        raise ConfigError(
            f"report {src.report_id} ({src.category}) has no field {missing[0]!r} "
            f"(kpi {src.kpi}, sql/seeds/report_map.csv); its fields: {', '.join(fields)}"
        )
    return [fields.index(n) for n in names]


def st_records(
    src: ReportSource, fields: list[str], rows: list[list[Any]], bu_map: Sequence[BuMapRow]
) -> list[StRecord]:
    (bu_i, date_i) = _index(src, fields, [src.bu_field, src.date_field])
    id_i = _index(src, fields, src.id_fields)
    value_i = _index(src, fields, [src.value_field])[0] if src.value_field else None
    out = []
    for n, row in enumerate(rows, start=1):
        try:
            day = dt.date.fromisoformat(str(row[date_i])[:10])
            amount = Decimal(1) if value_i is None else Decimal(str(row[value_i] or 0))
        except (ValueError, ArithmeticError, IndexError):
            raise ConfigError(
                f"report {src.report_id} row {n}: {src.date_field}/{src.value_field} "
                f"not a date/number: {row!r}"
            ) from None
        out.append(StRecord(
            src.kpi, "->".join(str(row[i]) for i in id_i), our_bu(row[bu_i], bu_map),
            row[bu_i], week_of(day), day, amount,
        ))  # fmt: skip
    return out


def st_totals(
    sources: Sequence[ReportSource], fields: list[str], rows: list[list[Any]],
    bu_map: Sequence[BuMapRow],
) -> dict[tuple[str, str], Decimal]:  # fmt: skip
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for src in sources:
        bu_i, value_i = _index(src, fields, [src.bu_field, src.value_field])
        for row in rows:
            totals[(src.kpi, our_bu(row[bu_i], bu_map))] += Decimal(str(row[value_i] or 0))
    return dict(totals)


@dataclass
class Reconciliation:
    weeks: list[dt.date]
    cells: list[CellResult]
    calls_made: int
    reused: int


def reconcile(
    client: bigquery.Client,
    settings: Settings,
    fetcher: ReportFetcher,
    sources: dict[str, KpiSources],
    weeks: list[dt.date],
    bu_map: Sequence[BuMapRow],
) -> Reconciliation:
    """Reconcile ``weeks`` (Mondays) for every KPI in ``sources``."""
    first, last = min(weeks), max(weeks) + dt.timedelta(days=6)
    params = {"From": first.isoformat(), "To": last.isoformat()}
    theirs: list[StRecord] = []
    totals: dict[tuple[str, str], Decimal] = {}
    by_report: dict[tuple[str, int], list[ReportSource]] = defaultdict(list)
    for kpi_sources in sources.values():
        for src in (kpi_sources.total, kpi_sources.records):
            by_report[(src.category, src.report_id)].append(src)
    for (category, report_id), srcs in by_report.items():
        result = fetcher.fetch(category, report_id, params)
        records = [s for s in srcs if s.kind == "records"]
        for src in records:
            theirs += st_records(src, result.fields, result.rows, bu_map)
        total_srcs = [s for s in srcs if s.kind == "total"]
        if total_srcs:
            totals.update(st_totals(total_srcs, result.fields, result.rows, bu_map))
    values, ours = our_side(client, settings, list(sources), weeks, theirs)
    cells = compare(values, ours, theirs, weeks, totals)
    return Reconciliation(weeks, cells, fetcher.calls_made, fetcher.reused)


def our_side(
    client: bigquery.Client, settings: Settings, kpis: list[str], weeks: list[dt.date],
    theirs: list[StRecord],
) -> tuple[dict[tuple[str, str, dt.date], Decimal | None], list[OurRecord]]:  # fmt: skip
    first, last = min(weeks), max(weeks)
    mart = f"{settings.gcp_project}.{settings.dataset('mart')}"
    kpi_list = ", ".join(sql_string(k) for k in kpis)
    values = {
        (r["kpi"], r["bu"], r["week_start"]): r["value"]
        for r in client.query_and_wait(
            f"SELECT kpi, bu, week_start, CAST(value AS NUMERIC) AS value FROM `{mart}.kpi_weekly` "
            f"WHERE kpi IN ({kpi_list}) AND week_start BETWEEN DATE '{first}' AND DATE '{last}'"
        )
    }
    keys = sorted({f"{r.kpi}:{r.record_id}" for r in theirs})
    st_keys = "ARRAY<STRING>[" + ", ".join(sql_string(k) for k in keys) + "]"
    sql = render("marts/explain/reconcile_records.sql", settings, week_from=f"DATE '{first}'",
                 week_to=f"DATE '{last}'", st_keys=st_keys).strip().rstrip(";")  # fmt: skip
    ours = [
        OurRecord(
            r["kpi"],
            r["record_id"],
            r["bu"],
            r["week_start"],
            r["local_date"],
            r["st_date"],
            Decimal(r["amount"] or 0),
            r["excluded_because"],
        )
        for r in client.query_and_wait(sql)
        if r["kpi"] in kpis
    ]
    return values, ours


def result_rows(
    rec: Reconciliation, *, run_id: str, tenant_id: str, at: dt.datetime
) -> list[dict[str, Any]]:
    stamp = at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return [
        {
            "run_id": run_id,
            "reconciled_at": stamp,
            "tenant_id": tenant_id,
            "week_start": c.week.isoformat(),
            "bu": c.bu,
            "kpi": c.kpi,
            "ours": float(c.ours),
            "theirs": float(c.st),
            "difference": float(c.difference),
            "status": c.status,
            "rules": ", ".join(c.rules) or None,
            "records": json.dumps([r.as_json() for r in c.records], sort_keys=True),
            "note": c.note or None,
        }
        for c in rec.cells
    ]


def store(client: bigquery.Client, settings: Settings, rows: list[dict[str, Any]]) -> None:
    table = f"{settings.gcp_project}.{settings.dataset('ops')}.reconciliation"
    if rows:
        errors = client.insert_rows_json(table, rows)
        if errors:
            raise RuntimeError(f"insert into reconciliation failed: {errors[:3]}")
