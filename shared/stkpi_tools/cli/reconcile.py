"""``stkpi reconcile``: our KPIs vs ServiceTitan's own reports, by KPI, BU and week, and
``stkpi reconcile discover``: the tenant's report categories, reports and fields, to fill in
``sql/seeds/report_map.csv``.
"""

from __future__ import annotations

import datetime as dt
import json

import typer
from rich.console import Console
from rich.table import Table

from stkpi.errors import ConfigError
from stkpi_tools.render import print_cells

reconcile_app = typer.Typer(
    help="Reconcile the KPIs with ServiceTitan's Reporting API (see `discover`).",
    invoke_without_command=True,
)


def _monday(value: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--week must be a date YYYY-MM-DD, got {value!r}") from None
    if day.weekday() != 0:
        raise ConfigError(f"--week must be a Monday; {day} is a {day:%A}")
    return day


_WEEK = typer.Option(None, help="a week (its Monday) to reconcile; repeatable")


@reconcile_app.callback(invoke_without_command=True)
def reconcile(
    ctx: typer.Context,
    week: list[str] | None = _WEEK,
    weeks: int = typer.Option(2, min=1, max=8, help="else the last N complete weeks"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    save: bool = typer.Option(True, help="store the result in st_ops.reconciliation"),
) -> None:
    """Our value, ServiceTitan's, the difference and match/explained/unexplained per KPI
    and BU, with the records behind every difference. Exit 1 if any is unexplained."""
    if ctx.invoked_subcommand is not None:
        return
    from stkpi.reconcile.daily import run_reconciliation
    from stkpi.reconcile.run import last_complete_weeks, result_rows
    from stkpi_tools.cli.env import pipeline_context
    from stkpi_tools.report_calls import FileCallLog

    picked = sorted({_monday(w) for w in week or []})
    pctx = pipeline_context()
    chosen = picked or last_complete_weeks(
        pctx.tenant_now().astimezone(pctx.settings.tz).date(), weeks
    )
    # The operator may not write the landing bucket where the rebuild records its report
    # calls: this machine's own calls are kept where its next run sees them.
    calls = FileCallLog.for_tenant(str(pctx.settings.st_tenant_id), pctx.settings.st_api_base_url)
    rec = run_reconciliation(pctx, run_id="adhoc", weeks=chosen, save=save, local_calls=calls)
    if as_json:
        rows = result_rows(rec, run_id="adhoc", tenant_id=str(pctx.settings.st_tenant_id),
                           at=pctx.now())  # fmt: skip
        for row in rows:
            row["records"] = json.loads(row["records"])
        typer.echo(json.dumps({"weeks": [str(w) for w in rec.weeks], "report_calls":
                               rec.calls_made, "reports_reused": rec.reused, "cells": rows},
                              indent=2, default=str))  # fmt: skip
    else:
        print_cells(rec, Console())
    if any(c.status == "unexplained" for c in rec.cells):
        raise typer.Exit(1)


@reconcile_app.command("discover")
def discover(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """List the tenant's report categories, reports and their fields."""
    from stkpi.reconcile.reports_api import ReportingApi
    from stkpi_tools.cli.env import pipeline_context

    pctx = pipeline_context()
    pctx.settings.require_servicetitan()
    api = ReportingApi(pctx.servicetitan, str(pctx.settings.st_tenant_id))
    found = []
    for category in api.categories():
        for report in api.reports(category["id"]):
            desc = api.describe(category["id"], report["id"])
            found.append({"category": category["id"], "report_id": report["id"],
                          "name": report.get("name"),
                          "fields": [f.get("name") for f in desc.get("fields") or []],
                          "parameters": [p.get("name") for p in desc.get("parameters") or []]})  # fmt: skip
    if as_json:
        typer.echo(
            json.dumps({"tenant_id": pctx.settings.st_tenant_id, "reports": found}, indent=2)
        )
        return
    table = Table(title=f"ServiceTitan reports of tenant {pctx.settings.st_tenant_id}")
    for col in ("category", "report_id", "name", "fields", "parameters"):
        table.add_column(col)
    for r in found:
        table.add_row(r["category"], str(r["report_id"]), str(r["name"]),
                      ", ".join(r["fields"]), ", ".join(r["parameters"]))  # fmt: skip
    Console().print(table)
    Console().print("Map them in sql/seeds/report_map.csv (one row per tenant, KPI and kind).")


def register(app: typer.Typer) -> None:
    app.add_typer(reconcile_app, name="reconcile")
