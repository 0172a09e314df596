"""``stkpi kpi-build``, ``stkpi explain`` and ``stkpi diagnose``: build and trace the KPIs.

Every query is a file under ``sql/marts/explain/``; this module only fills parameters and
prints tables.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from stkpi.errors import ConfigError
from stkpi.kpi_config import sql_string
from stkpi.marts import KPIS
from stkpi_tools.cli.env import TenantOption, pipeline_context

diagnose_app = typer.Typer(help="Diagnose KPI inputs (time zones, invoice links).")


def _context(tenant: str | None = None) -> tuple[Any, Any]:
    """BigQuery as the CLI's caller: the environment, completed by a running local stack
    (as ``backfill`` and ``status`` do), so the README's commands work after ``local up``;
    the settings are those of the ``--tenant`` given (its datasets, zone and weeks)."""
    ctx = pipeline_context(tenant)
    return ctx.bigquery, ctx.settings


def _date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{name} must be a date YYYY-MM-DD, got {value!r}") from None


def _query(relpath: str, tenant: str | None = None, **extra: str) -> list[dict[str, Any]]:
    from stkpi.sqlfiles import render

    client, settings = _context(tenant)
    sql = render(relpath, settings, **extra).strip().rstrip(";")
    return [dict(r.items()) for r in client.query_and_wait(sql)]


def _print(rows: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    if not rows:
        Console().print(f"{title}: no rows")
        return
    for col in rows[0]:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    Console().print(table)


def explain(
    kpi: str = typer.Option(..., help=f"one of: {', '.join(KPIS)}"),
    bu: str = typer.Option(..., help="normalized BU name, 'unmapped' or 'unlinked'"),
    week: str = typer.Option(..., help="week start (a Monday unless the tenant's weeks "
                             "start on another day), YYYY-MM-DD"),
    tenant: TenantOption = None,
) -> None:  # fmt: skip
    """Show a KPI cell (value, numerator, denominator) and the records behind it."""
    from stkpi.kpi_config import week_of

    if kpi not in KPIS:
        raise ConfigError(f"unknown KPI {kpi!r}; known: {', '.join(KPIS)}")
    first = _date(week, "--week")
    client, settings = _context(tenant)
    if week_of(first, settings.weeks_start) != first:
        raise ConfigError(
            f"--week must be the first day of a week, a {settings.weeks_start.title()} "
            f"(the tenant's weeks start on it); {first} is a {first:%A}"
        )
    mart = f"{settings.gcp_project}.{settings.dataset('mart')}"
    cell = [
        dict(r.items())
        for r in client.query_and_wait(
            f"SELECT * FROM `{mart}.kpi_{kpi}` "
            f"WHERE bu = {sql_string(bu)} AND week_start = DATE '{first}'"
        )
    ]
    _print(cell, f"kpi_{kpi} {bu} week of {first}")
    rows = _query(
        "marts/explain/kpi_contributions.sql",
        tenant,
        kpi=sql_string(kpi),
        bu=sql_string(bu),
        week_start=f"DATE '{first}'",
    )
    _print(rows, "contributing records (excluded ones last, with the reason)")


@diagnose_app.command("total-booked")
def diagnose_total_booked(
    date: str = typer.Option(..., help="local day in the report time zone, YYYY-MM-DD"),
) -> None:
    """Total Booked of one day per BU, by report-TZ date vs. by UTC date."""
    day = _date(date, "--date")
    _print(
        _query("marts/explain/total_booked_on_date.sql", day=f"DATE '{day}'"),
        f"Total Booked on {day}",
    )


@diagnose_app.command("invoice-links")
def diagnose_invoice_links() -> None:
    """How invoices were linked to jobs (by id, by number, unlinked) and their coverage."""
    _print(_query("marts/explain/invoice_links.sql"), "invoice -> job links")


def kpi_build(tenant: TenantOption = None) -> None:
    """Rebuild seeds, dims and KPI marts now (what rebuild_dims does after a run), then the
    view over every tenant's KPIs if it is stale (stkpi.combined)."""
    from stkpi.combined import refresh_after_rebuild
    from stkpi.marts import build_marts

    ctx = pipeline_context(tenant)
    counts = build_marts(ctx.bigquery, ctx.settings)
    _print([{"table": k, "rows": v} for k, v in counts.items()], "KPI layer rebuilt")
    done = refresh_after_rebuild(ctx.bigquery, (ctx.deployment or ctx).settings)
    if done is not None:
        Console().print(f"combined view {done.action}: tenants {', '.join(done.included)}"
                        + (f" (no marts yet: {', '.join(done.waiting)})" if done.waiting else ""),
                        highlight=False)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("explain")(explain)
    app.command("kpi-build")(kpi_build)
    app.add_typer(diagnose_app, name="diagnose")
