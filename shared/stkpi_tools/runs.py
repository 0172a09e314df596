"""Publish a plan message and follow its run to the rebuild.

Shared by the CLI (``stkpi backfill`` / ``daily`` / ``deletes``), the demo and the chaos lab,
so none of them imports another's command module: each publishes exactly what Cloud
Scheduler publishes and reads the run's progress from the landing bucket's control
objects (windows loaded out of planned, then the rebuild marker).
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stkpi.context import PipelineContext
from stkpi.errors import StkpiError
from stkpi.landing import Landing
from stkpi.messages import PlanMessage, decode
from stkpi.planner import RunPlan
from stkpi.runwindows import RunWindows
from stkpi.windows import iso_z

console = Console()


class RunFailedError(StkpiError):
    """A run did not finish in time; the status says which windows are stuck."""


def publish_plan(ctx: PipelineContext, msg: PlanMessage) -> None:
    ctx.bus.publish(ctx.settings.topic_plan, msg)


def deletes_message(entities: list[str], run_id: str | None = None) -> PlanMessage:
    """The key scan's plan message: what the weekly scheduler job publishes
    (terraform/scheduler.tf, weekly-deletes), plus the CLI's run id. A bad entity is one
    clear line (``BadMessageError``), not a traceback."""
    body: dict = {"run_type": "deletes", "entities": entities}
    if run_id is not None:
        body["run_id"] = run_id
    return decode(PlanMessage, body)


def allow_deletes(
    ctx: PipelineContext, entities: list[str], share: float, hours: float, reason: str
) -> list[dict[str, Any]]:
    """The operator's allowance: key scans of ``entities`` may mark up to ``share`` of each
    over the guard's period, for the next ``hours`` (``st_ops.delete_allowances``, written
    with the operator's credentials; stkpi.key_scan reads it)."""
    now = ctx.now()
    who = os.environ.get("USER") or os.environ.get("LOGNAME") or "operator"
    rows = [
        {
            "entity": entity,
            "max_share": share,
            "granted_at": iso_z(now),
            "expires_at": iso_z(now + timedelta(hours=hours)),
            "granted_by": who,
            "reason": reason,
        }
        for entity in entities
    ]
    table = f"{ctx.settings.gcp_project}.{ctx.settings.dataset('ops')}.delete_allowances"
    errors = ctx.bigquery.insert_rows_json(table, rows)
    if errors:
        raise StkpiError(f"the allowance was not written: {errors}")
    return rows


PROGRESS_SECONDS = 2.0  # how often a shown progress bar recounts the run's windows


def wait_for_run(
    ctx: PipelineContext, run_id: str, *, timeout: float, show: bool = True
) -> dict[str, int]:
    """Block until ``run_id`` is rebuilt; returns {windows, loaded}. Raises on timeout.

    Each poll asks for the rebuild marker alone (one request). Counting the windows reads
    the plan, every split record and a listing of every loaded marker: hundreds of
    requests on a backfill, done only for the progress bar (every ``PROGRESS_SECONDS``)
    and once at the end. Counting on every poll cost the storage emulator and this
    process a CPU core's tenth for the whole run.
    """
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
        total = loaded = 0
        counted_at = -PROGRESS_SECONDS
        while time.monotonic() < deadline:
            done = landing.exists(Landing.rebuild_done_name(run_id))
            if done or (show and time.monotonic() - counted_at >= PROGRESS_SECONDS):
                counted_at = time.monotonic()
                total, loaded = _window_counts(landing, run_id)
                if total or loaded:
                    progress.update(
                        task, total=total, completed=loaded, description=f"{run_id}: windows loaded"
                    )
            if done:
                progress.update(task, description=f"{run_id}: rebuilt")
                return {"windows": total, "loaded": loaded}
            time.sleep(0.5)
    total, loaded = _window_counts(landing, run_id)
    raise RunFailedError(
        f"run {run_id} not finished after {timeout:.0f}s ({loaded}/{total} windows loaded); "
        "see `stkpi status` for failed or stuck windows"
    )


def _window_counts(landing: Landing, run_id: str) -> tuple[int, int]:
    """(leaf windows of the run as split so far, windows loaded); (0, 0) before its plan."""
    doc = landing.read_json(Landing.plan_name(run_id))
    if doc is None:
        return 0, 0
    # Windows split by count while the run goes: count its leaves as they are now.
    total = len(RunWindows.read(RunPlan.from_manifest(doc), landing).leaves())
    return total, len(landing.loaded_windows(run_id))
