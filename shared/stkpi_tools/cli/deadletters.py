"""``stkpi dead-letters``: what the pipeline gave up on, and sending it back after a fix."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stkpi_tools.cli.env import pipeline_context

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
) -> None:
    """List dead-lettered messages (left in place), or replay them with --replay."""
    from stkpi.deadletters import list_dead_letters, replay_dead_letters

    if include_permanent and not replay:
        raise typer.BadParameter("--all only makes sense with --replay", param_hint="--all")
    settings = pipeline_context().settings
    if replay:
        replayed, kept = replay_dead_letters(settings, include_permanent=include_permanent)
    else:
        replayed, kept = [], list_dead_letters(settings)
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
    for col in ("topic", "kind", "reason", "body"):
        table.add_column(col, overflow="fold")
    for d in kept:
        s = d.summary()
        table.add_row(s["topic"], s["kind"], s["reason"], s["body"][:120])
    console.print(table)
    if replay:
        console.print(f"replayed {len(replayed)} message(s) to their topics")


def register(app: typer.Typer) -> None:
    app.command("dead-letters")(dead_letters)
