"""The README's main job: the whole pipeline on the local stack, start to finish.

Starts the emulators, the ServiceTitan simulator and the four function servers (Pub/Sub
push, as deployed), backfills the simulated tenant, moves the simulator's clock a day
(new records and edits of old ones), runs the daily increment, prints the run summary
and the row counts per table, and stops exactly what it started.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from stkpi import sqlfiles
from stkpi.cli.pipeline import publish_plan, render_status, wait_for_run
from stkpi.config import load_settings
from stkpi.context import PipelineContext
from stkpi.messages import PlanMessage
from stkpi.planner import floor_hour
from stkpi.status import collect_status

console = Console()
DEMO_ROOT = Path(".stkpi") / "demo"


def run_demo(
    *, scale: float, seed: int, window_days: int, keep: bool, timeout: float, dispatcher: int
) -> None:
    from stkpi.localstack import Stack
    from stkpi.sim.admin import SimAdmin
    from stkpi.sim.config import HISTORY_START

    # The simulator's clock starts a day behind the wall clock; after the backfill it moves
    # a day forward, and the daily run (planned up to the wall-clock hour) picks that up.
    sim_now = floor_hour(datetime.now(UTC)) - timedelta(days=1)
    stack = Stack(
        DEMO_ROOT,
        with_simulator=True,
        sim_args={"scale": scale, "seed": seed, "now": sim_now.isoformat()},
        functions=True,
        # Pub/Sub push delivers at most 2 messages at a time on the emulator; the dispatcher
        # gives the fan-out Cloud Functions would (see DESIGN.md, local stack).
        dispatcher_concurrency=dispatcher,
    )
    started = time.monotonic()
    console.rule("[bold]st-kpi demo: local stack")
    info = stack.start()
    try:
        env = info.env()
        os.environ.update(env)
        ctx = PipelineContext(load_settings(env))
        for name, url in sorted(info.urls().items()):
            console.print(f"  {name:<14} {url}")

        console.rule("[bold]backfill")
        backfill_id = f"demo-backfill-{sim_now:%Y%m%dT%H}"
        publish_plan(
            ctx,
            PlanMessage(
                run_type="backfill",
                start=HISTORY_START,
                end=sim_now,
                window_days=window_days,
                run_id=backfill_id,
            ),
        )
        wait_for_run(ctx, backfill_id, timeout=timeout)

        console.rule("[bold]a day passes in the simulator; daily increment")
        SimAdmin(env["ST_API_BASE_URL"]).advance(24)
        daily_id = f"demo-daily-{sim_now:%Y%m%dT%H}"
        publish_plan(ctx, PlanMessage(run_type="daily", run_id=daily_id))
        wait_for_run(ctx, daily_id, timeout=timeout)

        console.rule("[bold]summary")
        render_status(collect_status(ctx))
        render_table_counts(ctx)
        write_report(ctx)
        console.print(f"demo finished in {time.monotonic() - started:.0f}s")
    finally:
        if keep:
            console.print(
                f"stack left running; stop it with [bold]./dev stkpi local down[/] ({DEMO_ROOT})"
            )
        else:
            stack.stop()


def write_report(ctx: PipelineContext) -> None:
    """The KPI dashboard of the demo tenant, as one offline HTML file."""
    from stkpi.report import build_report

    path = Path("kpi-report.html").resolve()
    path.write_text(build_report(ctx.bigquery, ctx.settings))
    console.print(f"KPI report: [bold]{path}[/] (open it in a browser; works offline)")


def render_table_counts(ctx: PipelineContext) -> None:
    """Row counts of every table in the raw, dim, mart and ops datasets."""
    client = ctx.bigquery
    table = Table(title="Row counts per table")
    table.add_column("dataset")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for layer in ("raw", "dim", "mart", "ops"):
        dataset = f"{ctx.settings.gcp_project}.{ctx.settings.dataset(layer)}"
        for item in sorted(client.list_tables(dataset), key=lambda t: t.table_id):
            if item.table_type == "VIEW":
                continue
            sql = sqlfiles.render(
                "ops/table_rows.sql", ctx.settings, table_ref=f"{dataset}.{item.table_id}"
            )
            rows = next(iter(client.query(sql).result()))["n"]
            table.add_row(ctx.settings.dataset(layer), item.table_id, f"{rows:,}")
    console.print(table)
