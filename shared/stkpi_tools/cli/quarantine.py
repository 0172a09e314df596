"""``stkpi quarantine``: the records set aside because they could not be stored, and
``--replay`` to read them again once the cause is fixed (stkpi.quarantine)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stkpi.quarantine import open_records, replay_plans
from stkpi.validation.config import ValidationConfig
from stkpi.validation.context import Context
from stkpi_tools.cli.env import TenantOption, pipeline_context
from stkpi_tools.runs import publish_plan, wait_for_run

console = Console()


def register(app: typer.Typer) -> None:
    @app.command()
    def quarantine(
        replay: Annotated[
            bool,
            typer.Option(
                help="read the quarantined records' windows again (a backfill per entity), "
                "once the record is fixed in ServiceTitan or the pipeline accepts it"
            ),
        ] = False,
        wait: Annotated[bool, typer.Option(help="follow each replay until rebuilt")] = True,
        timeout: Annotated[float, typer.Option(help="seconds to wait per replay")] = 3600.0,
        tenant: TenantOption = None,
    ) -> None:
        """Records quarantined in the last 30 days and not copied since: why, and where."""
        ctx = pipeline_context(tenant)
        now = ctx.now()
        query = Context(ctx.bigquery, ctx.settings, now, ValidationConfig()).query
        records = open_records(query, now)
        table = Table("entity", "key", "reason", "in raw", "read in", "quarantined")
        for r in records:
            table.add_row(
                r.entity,
                r.record_key or "(no key)",
                r.reason[:100],
                "older version" if r.copied_at else "no",
                f"{r.run_id} / {r.window_id}",
                f"{r.quarantined_at:%Y-%m-%d %H:%M}",
            )
        if not records:
            console.print("no quarantined records waiting")
            return
        console.print(table)
        if not replay:
            console.print("read them again once fixed: stkpi quarantine --replay")
            return
        # Replays end at the tenant's present: a plan refuses an end past it (stkpi.clock).
        stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
        for msg in replay_plans(
            records, ctx.tenant_now(), lambda n: f"replay-{stamp}-{uuid.uuid4().hex[:6]}"
        ):
            run_id = str(msg.run_id)
            publish_plan(ctx, msg)
            console.print(
                f"published replay [bold]{run_id}[/] of {msg.entities[0]} {msg.start} .. {msg.end}"
            )
            if wait:
                wait_for_run(ctx, run_id, timeout=timeout)
