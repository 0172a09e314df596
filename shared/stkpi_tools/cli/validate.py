"""``stkpi validate``: can the numbers be trusted this morning?

Prints a stoplight table (GREEN / YELLOW / RED per check, with its numbers and what to look
at next), or JSON with ``--json``; stores the results in ``${ops}.validation_results``; and
exits 0 (all GREEN, or YELLOW without ``--strict``), 1 (YELLOW with ``--strict``) or 2
(any RED), so CI or Cloud Scheduler can alert on it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stkpi.validation.config import load_validation_config
from stkpi.validation.result import CheckResult, exit_code, worst
from stkpi.validation.runner import run_validations
from stkpi_tools.cli.env import TenantOption

_STYLE = {"GREEN": "bold green", "YELLOW": "bold yellow", "RED": "bold red"}


def render_table(results: Sequence[CheckResult], console: Console) -> None:
    table = Table(title="stkpi validate", show_lines=False)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("numbers")
    table.add_column("next step")
    for r in results:
        table.add_row(f"[{_STYLE[r.status]}]{r.status}[/]", r.name, r.message, r.next_step or "")
    console.print(table)
    counts = {s: sum(1 for r in results if r.status == s) for s in _STYLE}
    overall = worst(results)
    console.print(
        f"overall [{_STYLE[overall]}]{overall}[/]: "
        + ", ".join(f"{n} {s}" for s, n in counts.items()),
        highlight=False,
    )


def to_json(results: Sequence[CheckResult], *, run_id: str, checked_at: dt.datetime) -> str:
    return json.dumps(
        {
            "run_id": run_id,
            "checked_at": checked_at.isoformat(),
            "status": worst(results),
            "checks": [r.to_dict() for r in results],
        },
        default=str,
        indent=2,
    )


def dead_letter_counter(settings, enabled: bool | None, ctx=None):  # type: ignore[no-untyped-def]
    """Count dead letters on the local stack (or when asked); None leaves the check out.
    An added tenant's validation (``ctx.tenant``) counts its own letters only: another
    tenant's dead letter never turns it RED (docs/TENANTS.md)."""
    if enabled is False or (enabled is None and not os.environ.get("PUBSUB_EMULATOR_HOST")):
        return None

    def count() -> Mapping[str, int]:
        from stkpi.deadletters import count_dead_letters, of_tenant
        from stkpi.tenants import default_tenant_id

        tenant = getattr(ctx, "tenant", None)
        default = default_tenant_id(settings)
        if tenant is not None:
            select = of_tenant(tenant.tenant_id, default)
        else:  # the default tenant's: those naming no tenant (or its id)
            select = of_tenant(default or "", default or "")
        return count_dead_letters(settings, ack=False, select=select)

    return count


def _parse_as_of(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"not an ISO date-time: {text!r}") from None
    if value.tzinfo is None:
        raise typer.BadParameter("--as-of needs a time zone (e.g. 2025-09-10T15:00:00Z)")
    return value


def register(app: typer.Typer) -> None:
    @app.command()
    def validate(
        as_json: Annotated[bool, typer.Option("--json", help="print JSON for machines")] = False,
        strict: Annotated[bool, typer.Option(help="exit 1 on YELLOW (RED always exits 2)")] = False,
        config: Annotated[
            Path | None, typer.Option(help="JSON file overriding validation thresholds")
        ] = None,
        run_id: Annotated[str, typer.Option(help="run id stored with the results")] = "adhoc",
        store: Annotated[bool, typer.Option(help="append to validation_results")] = True,
        dead_letters: Annotated[
            bool | None,
            typer.Option(
                "--dead-letters/--no-dead-letters",
                help="count dead-lettered messages (default: when a Pub/Sub emulator is set)",
            ),
        ] = None,
        as_of: Annotated[
            str | None,
            typer.Option(help="judge as of this ISO time with zone (default: now); for replays"),
        ] = None,
        tenant: TenantOption = None,
    ) -> None:
        """Data validations: coverage, volume, freshness, joins, KPIs, pipeline health."""
        from stkpi_tools.cli.env import pipeline_context

        ctx = pipeline_context(tenant)
        # A replay judges as of one instant on both clocks; otherwise the tenant's present
        # (the simulator's on the local stack) and the machine's (stkpi.clock).
        replay = _parse_as_of(as_of) if as_of else None
        now = replay or ctx.tenant_now()
        wall_now = replay or ctx.now()
        results = run_validations(
            ctx.bigquery,
            ctx.settings,
            now=now,
            wall_now=wall_now,
            config=load_validation_config(config),
            run_id=run_id,
            store=store,
            dead_letters=dead_letter_counter(ctx.settings, dead_letters, ctx),
        )
        if as_json:
            typer.echo(to_json(results, run_id=run_id, checked_at=wall_now))
        else:
            render_table(results, Console())
        raise typer.Exit(exit_code(results, strict=strict))
