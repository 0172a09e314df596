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


def report(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path(
        "kpi-report.html"
    ),
    weeks: Annotated[int, typer.Option("--weeks", help="weeks of history to show")] = 12,
) -> None:
    """Write the KPI report (one HTML page, works offline) and print its path."""
    if weeks < 1 or weeks > 104:
        raise ConfigError(f"--weeks must be between 1 and 104, got {weeks}")
    from stkpi.report import build_report
    from stkpi_tools.cli.env import pipeline_context

    ctx = pipeline_context()
    html = build_report(ctx.bigquery, ctx.settings, weeks=weeks, now=ctx.tenant_now())
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    Console().print(
        f"report written: {out.resolve()} ({len(html) / 1e6:.1f} MB); open it in a browser",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("report")(report)
