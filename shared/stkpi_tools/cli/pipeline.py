"""``stkpi backfill``, ``daily``, ``deletes``, ``status``: drive and watch the pipeline.

Commands publish plan messages exactly as Cloud Scheduler does, then (with ``--wait``)
follow the run through the landing bucket's control objects: windows loaded out of
planned, then the rebuild. They work against the local stack (``stkpi local up`` records
its endpoints) or against any environment whose variables are set.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from stkpi.context import PipelineContext
from stkpi.errors import StkpiError
from stkpi.landing import Landing
from stkpi.messages import PlanMessage, decode
from stkpi.planner import RunPlan
from stkpi.runwindows import RunWindows
from stkpi.status import collect_status
from stkpi_tools.cli.env import pipeline_context

console = Console()


class RunFailedError(StkpiError):
    """A run did not finish in time; the status says which windows are stuck."""


def _parse_day(value: str, option: str) -> datetime:
    try:
        day = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (use YYYY-MM-DD)", param_hint=option
        ) from None
    return day.replace(tzinfo=day.tzinfo or UTC)


def publish_plan(ctx: PipelineContext, msg: PlanMessage) -> None:
    ctx.bus.publish(ctx.settings.topic_plan, msg)


def deletes_message(
    entities: list[str], max_share: float | None = None, run_id: str | None = None
) -> PlanMessage:
    """The key scan's plan message: what the weekly scheduler job publishes
    (terraform/scheduler.tf, weekly-deletes), plus the CLI's run id and guard override.
    A bad entity is one clear line (``BadMessageError``), not a traceback."""
    body: dict = {"run_type": "deletes", "entities": entities}
    if run_id is not None:
        body["run_id"] = run_id
    if max_share is not None:
        body["max_delete_share"] = max_share
    return decode(PlanMessage, body)


def wait_for_run(
    ctx: PipelineContext, run_id: str, *, timeout: float, show: bool = True
) -> dict[str, int]:
    """Block until ``run_id`` is rebuilt; returns {windows, loaded}. Raises on timeout."""
    landing = ctx.landing
    deadline = time.monotonic() + timeout
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not show,
    )
    with progress:
        task = progress.add_task(f"{run_id}: waiting for plan", total=None)
        total = 0
        loaded = 0
        while time.monotonic() < deadline:
            doc = landing.read_json(Landing.plan_name(run_id))
            if doc is not None:
                # Windows split by count while the run goes: count its leaves as they are now.
                total = len(RunWindows.read(RunPlan.from_manifest(doc), landing).leaves())
                loaded = len(landing.loaded_windows(run_id))
                progress.update(
                    task, total=total, completed=loaded, description=f"{run_id}: windows loaded"
                )
                if landing.exists(Landing.rebuild_done_name(run_id)):
                    progress.update(task, description=f"{run_id}: rebuilt")
                    return {"windows": total, "loaded": loaded}
            time.sleep(0.5)
    raise RunFailedError(
        f"run {run_id} not finished after {timeout:.0f}s ({loaded}/{total} windows loaded); "
        "see `stkpi status` for failed or stuck windows"
    )


def register(app: typer.Typer) -> None:
    @app.command()
    def backfill(
        start: Annotated[str, typer.Option(help="first day, YYYY-MM-DD (UTC)")],
        end: Annotated[str, typer.Option(help="day after the last, YYYY-MM-DD (UTC)")],
        entities: Annotated[
            str, typer.Option(help="comma-separated entity names; empty = all")
        ] = "",
        window_days: Annotated[
            int | None,
            typer.Option(
                min=1,
                max=3660,
                help="longest window in days; windows split by record count anyway, so "
                "leave it unset unless you want to bound a window's span",
            ),
        ] = None,
        wait: Annotated[bool, typer.Option(help="follow the run until rebuilt")] = True,
        timeout: Annotated[float, typer.Option(help="seconds to wait")] = 3600.0,
    ) -> None:
        """Copy a date range of the tenant: plan windows, fetch, load, rebuild once."""
        names = [e.strip() for e in entities.split(",") if e.strip()]
        first, after = _parse_day(start, "--start"), _parse_day(end, "--end")
        if after <= first:  # say it in the options' words, not the message schema's
            raise typer.BadParameter(
                f"{end} is not after --start {start} (--end is the day after the last)",
                param_hint="--end",
            )
        run_id = f"backfill-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        msg = decode(
            PlanMessage,
            {
                "run_type": "backfill",
                "entities": names,
                "start": first,
                "end": after,
                **({"window_days": window_days} if window_days else {}),
                "run_id": run_id,
            },
        )
        ctx = pipeline_context()
        publish_plan(ctx, msg)
        console.print(f"published backfill [bold]{run_id}[/]")
        if wait:
            wait_for_run(ctx, run_id, timeout=timeout)

    @app.command()
    def daily(
        wait: Annotated[bool, typer.Option(help="follow the run until rebuilt")] = True,
        timeout: Annotated[float, typer.Option(help="seconds to wait")] = 1800.0,
    ) -> None:
        """Publish the daily incremental plan (what Cloud Scheduler sends every morning)."""
        ctx = pipeline_context()
        run_id = f"daily-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        publish_plan(ctx, PlanMessage(run_type="daily", run_id=run_id))
        console.print(f"published daily run [bold]{run_id}[/]")
        if wait:
            wait_for_run(ctx, run_id, timeout=timeout)

    @app.command()
    def deletes(
        entities: Annotated[
            str, typer.Option(help="comma-separated deletable entities; empty = all")
        ] = "",
        max_share: Annotated[
            float | None,
            typer.Option(
                min=0.0001,
                max=1.0,
                help="mark at most this share of an entity deleted in one go (default: the "
                "deployment's DELETE_GUARD_SHARE, 0.02); raise it only for deletes you know "
                "are real",
            ),
        ] = None,
        wait: Annotated[bool, typer.Option(help="follow the run until rebuilt")] = True,
        timeout: Annotated[float, typer.Option(help="seconds to wait")] = 3600.0,
    ) -> None:
        """Key scan: find records deleted in ServiceTitan and mark them deleted in raw
        (what the weekly Cloud Scheduler job sends)."""
        names = [e.strip() for e in entities.split(",") if e.strip()]
        run_id = f"deletes-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        msg = deletes_message(names, max_share, run_id)
        ctx = pipeline_context()
        publish_plan(ctx, msg)
        console.print(f"published key scan [bold]{run_id}[/]")
        if wait:
            wait_for_run(ctx, run_id, timeout=timeout)
            render_scans(collect_status(ctx)["scans"])

    @app.command()
    def status() -> None:
        """Runs, windows by state, rows and lag per entity, dead letters."""
        report = collect_status(pipeline_context())
        render_status(report)

    register_demo(app)


def render_status(report: dict) -> None:
    runs = Table(title="Runs (newest first)")
    for col in ("run", "type", "windows", "loaded", "failed", "rebuilt", "records"):
        runs.add_column(col)
    for r in report["runs"]:
        runs.add_row(
            r["run_id"],
            str(r.get("run_type") or ""),
            str(r.get("windows") or 0),
            str(r.get("loaded") or 0),
            str(r.get("failed") or 0),
            str(r.get("rebuilt_at") or "-"),
            str(r.get("records") or 0),
        )
    console.print(runs)
    entities = Table(title="Raw tables")
    for col in ("entity", "rows", "newest modifiedOn", "lag (h)"):
        entities.add_column(col)
    for e in report["entities"]:
        lag = e.get("lag_hours")
        entities.add_row(
            e["entity"],
            str(e["rows"]),
            str(e.get("newest") or "-"),
            "-" if lag is None else f"{lag:.1f}",
        )
    console.print(entities)
    render_scans(report.get("scans", []))
    dead = report.get("dead_letters", {})
    total = sum(dead.values())
    style = "red" if total else "green"
    console.print(f"[{style}]dead letters: {total}[/] {dead if total else ''}")


def render_scans(scans: list[dict]) -> None:
    """The last key scan per entity (stkpi.key_scan): what it saw and marked, or why not."""
    table = Table(title="Key scans (last per entity)")
    for col in ("entity", "run", "at", "keys seen", "marked", "reappeared", "result"):
        table.add_column(col)
    for s in scans:
        guarded = bool(s.get("guarded"))
        table.add_row(
            s["entity"],
            str(s.get("run_id") or "-"),
            str(s.get("event_time") or "-"),
            str(s.get("keys_seen", "-")),
            str(s.get("marked", 0)),
            str(s.get("to_unmark", 0)),
            f"[red]GUARDED: {s.get('reason')}[/]" if guarded else "[green]applied[/]",
        )
    if not scans:
        table.add_row("-", "no key scan yet (stkpi deletes)", "", "", "", "", "")
    console.print(table)


def register_demo(app: typer.Typer) -> None:
    @app.command()
    def demo(
        scale: Annotated[float, typer.Option(help="tenant size; 1.0 = production volumes")] = 0.01,
        seed: Annotated[int, typer.Option()] = 42,
        window_days: Annotated[int, typer.Option(min=1)] = 365,
        dispatcher: Annotated[
            int, typer.Option(help="concurrent deliveries per function (0 = Pub/Sub push)")
        ] = 4,
        keep: Annotated[
            bool,
            typer.Option(
                help="leave the stack running afterwards, as `stkpi local up` would (the "
                "other commands find it; `stkpi local down` stops it)"
            ),
        ] = False,
        timeout: Annotated[float, typer.Option(help="seconds to wait for each run")] = 1800.0,
        own_tenant: Annotated[
            bool,
            typer.Option(
                "--own-tenant",
                help="run on your ServiceTitan tenant instead of the simulator: ST_AUTH_URL, "
                "ST_TENANT_ID, ST_CLIENT_ID, ST_CLIENT_SECRET, ST_APP_KEY (and optionally "
                "ST_API_BASE_URL, default https://api.servicetitan.io, REPORT_TIMEZONE, "
                "ST_PAGE_SIZE, ST_RATE_LIMIT_PER_SECOND) from the environment or .env; "
                "the credentials reach the functions that call ServiceTitan only",
            ),
        ] = False,
        since: Annotated[
            str | None,
            typer.Option(
                help="first day of the backfill, YYYY-MM-DD (default: the simulator's whole "
                "history; with --own-tenant the last 365 days)"
            ),
        ] = None,
    ) -> None:
        """Start the local stack, backfill the simulated tenant (or yours, --own-tenant),
        run a daily increment, print the run summary and row counts, then stop the stack."""
        import os
        from pathlib import Path

        from stkpi_tools.demo import own_tenant_settings, run_demo

        run_demo(
            scale=scale,
            seed=seed,
            window_days=window_days,
            keep=keep,
            timeout=timeout,
            dispatcher=dispatcher or None,
            # resolved before anything starts: a missing setting costs no stack start
            own_tenant=own_tenant_settings(os.environ, Path.cwd()) if own_tenant else None,
            since=since,
        )
