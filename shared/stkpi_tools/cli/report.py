"""``stkpi report``: write the weekly KPI dashboard as one self-contained HTML file.

Open the file in any browser, offline: KPIs of the last weeks per BU and region, the
validation stoplight, data freshness and the run history (see ``stkpi.report``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from stkpi.errors import ConfigError
from stkpi_tools.cli.env import TenantOption


def report(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path(
        "kpi-report.html"
    ),
    weeks: Annotated[int, typer.Option("--weeks", help="weeks of history to show")] = 12,
    tenant: TenantOption = None,
    combined: Annotated[bool, typer.Option(
        "--combined", help="regions summed over every tenant of the tenant's time zone and "
        "week start (the view kpi_weekly_all)")] = False,
) -> None:  # fmt: skip
    """Write the KPI report (one HTML page, works offline) and print its path."""
    if weeks < 1 or weeks > 104:
        raise ConfigError(f"--weeks must be between 1 and 104, got {weeks}")
    from stkpi.report import build_report
    from stkpi_tools.cli.env import pipeline_context

    ctx = pipeline_context(tenant)
    html = build_report(
        ctx.bigquery, ctx.settings, weeks=weeks, now=ctx.tenant_now(),
        tenant=ctx.tenant.tenant_id if ctx.tenant else None,
        combined_from=(ctx.deployment or ctx).settings if combined else None,
    )  # fmt: skip
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    Console().print(
        f"report written: {out.resolve()} ({len(html) / 1e6:.1f} MB); open it in a browser",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("report")(report)
