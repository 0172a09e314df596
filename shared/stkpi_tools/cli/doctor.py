"""``stkpi doctor``: check the ServiceTitan connection and API scopes before a backfill.

Reads the pipeline's settings (the environment, completed by a ``.env`` file in the current
directory; the environment wins) and runs the checks of ``stkpi_tools.doctor``: the auth
server, the token, the app key and tenant, each endpoint of the registry, the rate limit
and what a full backfill costs at the configured rate.

One line per check (a table, or one JSON document with ``--json``), each with a verdict
(ok / warn / fail), the evidence and the fix. Exit 0 when all is well, 1 on warnings (an
endpoint refused: the rest works), 2 on failures (no token, app key or tenant refused,
nothing reachable). No secret is printed: the client secret, app key, client id and every
token are replaced by ``***`` in anything shown.

The doctor talks to ServiceTitan only: ``GCP_PROJECT`` and ``LANDING_BUCKET``, required by
the pipeline's settings, get placeholders here when unset.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import Counter
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stkpi.config import Settings, load_settings
from stkpi_tools.doctor.report import Report
from stkpi_tools.doctor.run import DEFAULT_SINCE, run_doctor
from stkpi_tools.dotenv import environ_with_dotenv

_PLACEHOLDERS = {"GCP_PROJECT": "unused-by-doctor", "LANDING_BUCKET": "unused-by-doctor"}

# --- settings ------------------------------------------------------------------------------


def doctor_env(environ: Mapping[str, str], cwd: Path) -> tuple[dict[str, str], list[str]]:
    """The environment completed by ``cwd/.env`` (environment wins), and which ST_* keys
    came from the file."""
    env, from_file = environ_with_dotenv(environ, cwd)
    return env, [k for k in from_file if k.startswith("ST_")]


def doctor_settings(env: Mapping[str, str], timeout: float) -> Settings:
    """The pipeline's settings (``ConfigError`` naming every problem), ServiceTitan
    credentials required, the request timeout capped for a quick answer."""
    settings = load_settings({**_PLACEHOLDERS, **env})
    settings.require_servicetitan()
    return settings.model_copy(
        update={"st_request_timeout_seconds": min(settings.st_request_timeout_seconds, timeout)}
    )


# --- output ------------------------------------------------------------------------------

_STYLE = {"ok": "bold green", "warn": "bold yellow", "fail": "bold red"}


def render_table(report: Report, console: Console, sources: str) -> None:
    s = report.settings
    console.print(
        f"ServiceTitan tenant [bold]{s['tenant_id']}[/] at {s['api_base_url']} "
        f"(auth {s['auth_url']}); settings from {sources}",
        highlight=False,
    )
    table = Table(title="stkpi doctor")
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("detail")
    table.add_column("fix")
    for c in report.checks:
        table.add_row(f"[{_STYLE[c.status]}]{c.status.upper()}[/]", c.name, c.detail, c.fix)
    console.print(table, highlight=False)
    if report.skipped:
        endpoints = [n for n in report.skipped if n.startswith("endpoint ")]
        names = [n for n in report.skipped if not n.startswith("endpoint ")]
        if endpoints:
            names.insert(names.index("rate limit"), f"the {len(endpoints)} endpoints")
        console.print(f"not checked (an earlier check failed): {', '.join(names)}", highlight=False)
    counts = Counter(c.status for c in report.checks)
    console.print(
        f"overall [{_STYLE[report.status]}]{report.status.upper()}[/]: "
        + ", ".join(f"{counts.get(s, 0)} {s}" for s in _STYLE)
        + f" (exit {report.exit_code})",
        highlight=False,
    )


def _parse_since(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not a date: {text!r} (use YYYY-MM-DD)") from None


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(
        as_json: Annotated[bool, typer.Option("--json", help="print JSON for machines")] = False,
        since: Annotated[
            str, typer.Option(help="backfill start for the estimate, YYYY-MM-DD")
        ] = DEFAULT_SINCE.isoformat(),
        timeout: Annotated[
            float, typer.Option(min=1.0, help="seconds to wait for one answer")
        ] = 30.0,
    ) -> None:
        """Check the ServiceTitan connection, app key, tenant and API scopes; estimate a
        full backfill. Exit 0 all good, 1 warnings, 2 failures."""
        first_day = _parse_since(since)
        env, from_file = doctor_env(os.environ, Path.cwd())
        settings = doctor_settings(env, timeout)
        client_log = logging.getLogger("stkpi.servicetitan")
        level = client_log.level
        client_log.setLevel(logging.ERROR)  # its retries show up as the checks' verdicts
        try:
            report = run_doctor(settings, since=first_day)
        finally:
            client_log.setLevel(level)
        if as_json:
            typer.echo(report.to_json())
        else:
            sources = "the environment"
            if from_file:
                sources += f" and .env ({', '.join(from_file)})"
            console = Console(width=None if sys.stdout.isatty() else 200)
            render_table(report, console, sources)
        raise typer.Exit(report.exit_code)
