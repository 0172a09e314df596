"""``stkpi dead-letters``: what the pipeline gave up on, and sending it back after a fix."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stkpi_tools.cli.env import TenantOption, checked_tenant, pipeline_context

console = Console()


def dead_letters(
    replay: Annotated[
        bool, typer.Option("--replay", help="republish retryable dead letters to their topics")
    ] = False,
    include_permanent: Annotated[
        bool,
        typer.Option("--all", help="with --replay: also messages that can never succeed"),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    tenant: TenantOption = None,
) -> None:
    """List dead-lettered messages (left in place), or replay them with --replay; with
    --tenant, only that tenant's (an unknown tenant's letters can be listed too)."""
    from stkpi.deadletters import list_dead_letters, of_tenant, replay_dead_letters
    from stkpi.tenants import default_tenant_id

    if include_permanent and not replay:
        raise typer.BadParameter("--all only makes sense with --replay", param_hint="--all")
    tenant = checked_tenant(tenant)
    settings = pipeline_context().settings
    select = None if tenant is None else of_tenant(tenant, default_tenant_id(settings))
    if replay:
        replayed, kept = replay_dead_letters(
            settings, include_permanent=include_permanent, select=select
        )
    else:
        replayed, kept = [], list_dead_letters(settings, select)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "replayed": [d.summary() for d in replayed],
                    "dead_letters": [d.summary() for d in kept],
                },
                indent=2,
            )
        )
        return
    table = Table(title=f"Dead letters ({len(kept)} waiting)")
    for col in ("topic", "tenant", "kind", "reason", "body"):
        table.add_column(col, overflow="fold")
    for d in kept:
        s = d.summary()
        table.add_row(s["topic"], s["tenant_id"] or "default", s["kind"], s["reason"],
                      s["body"][:120])  # fmt: skip
    console.print(table)
    if replay:
        console.print(f"replayed {len(replayed)} message(s) to their topics")


def register(app: typer.Typer) -> None:
    app.command("dead-letters")(dead_letters)
