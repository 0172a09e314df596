"""``stkpi backfill``, ``daily``, ``deletes``, ``status``: drive and watch the pipeline.

Commands publish plan messages exactly as Cloud Scheduler does, then (with ``--wait``)
follow the run through the landing bucket's control objects: windows loaded out of
planned, then the rebuild (``stkpi_tools.runs``, which the demo and the chaos lab use too).
They work against the local stack (``stkpi local up`` records its endpoints) or against
any environment whose variables are set.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

from stkpi.context import PipelineContext
from stkpi.messages import PlanMessage, decode
from stkpi.planner import floor_hour
from stkpi.registry import DELETABLE
from stkpi.status import collect_status
from stkpi_tools.cli.env import TenantOption, pipeline_context
from stkpi_tools.render import render_scans, render_status
from stkpi_tools.runs import allow_deletes, deletes_message, publish_plan, wait_for_run

console = Console()

# The options the run commands share, declared once.
Wait = Annotated[bool, typer.Option(help="follow the run until rebuilt")]
Timeout = Annotated[float, typer.Option(help="seconds to wait")]
Entities = Annotated[str, typer.Option(help="comma-separated entity names; empty = all")]
DeletableEntities = Annotated[
    str, typer.Option(help="comma-separated deletable entities; empty = all")
]
WindowDays = Annotated[
    int | None,
    typer.Option(
        help="longest window in days; windows split by record count anyway, so "
        "leave it unset unless you want to bound a window's span",
        min=1,
        max=3660,
    ),
]
AllowShare = Annotated[
    float | None,
    typer.Option(
        help="allow this scan (and any in the next --for-hours) to mark up to this share of "
        "each entity deleted over the guard's 30 days (default guard: DELETE_GUARD_SHARE, "
        "0.02); written to st_ops.delete_allowances with your credentials. Use it only for "
        "deletes you know are real",
        min=0.0001,
        max=1.0,
    ),
]


def _parse_day(value: str, option: str) -> datetime:
    try:
        day = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (use YYYY-MM-DD)", param_hint=option
        ) from None
    return day.replace(tzinfo=day.tzinfo or UTC)


def _parse_instant(value: str, option: str) -> datetime:
    """An ISO-8601 time (naive = UTC)."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO-8601 time (e.g. 2026-12-07T16:00Z)", param_hint=option
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _names(entities: str) -> list[str]:
    """``--entities a, b`` -> ``["a", "b"]`` (empty = all)."""
    return [e.strip() for e in entities.split(",") if e.strip()]


def _run_id(kind: str) -> str:
    return f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def _publish(
    msg: PlanMessage, what: str, *, wait: bool, timeout: float, tenant: str | None = None
) -> PipelineContext:
    """Publish ``msg`` as Cloud Scheduler would (for ``tenant``: stamped with it), say so,
    and follow the run if asked."""
    ctx = pipeline_context(tenant)
    publish_plan(ctx, msg)
    whose = f" of tenant {ctx.tenant.tenant_id}" if ctx.tenant else ""
    console.print(f"published {what}{whose} [bold]{msg.run_id}[/]")
    if wait:
        wait_for_run(ctx, str(msg.run_id), timeout=timeout)
    return ctx


def register(app: typer.Typer) -> None:
    @app.command()
    def backfill(
        start: Annotated[str, typer.Option(help="first day, YYYY-MM-DD (UTC)")],
        end: Annotated[
            str | None,
            typer.Option(
                help="day after the last, YYYY-MM-DD (UTC); default: now, the tenant's "
                "clock (the simulator's on the local stack)"
            ),
        ] = None,
        entities: Entities = "",
        window_days: WindowDays = None,
        wait: Wait = True,
        timeout: Timeout = 3600.0,
        tenant: TenantOption = None,
    ) -> None:
        """Copy a date range of the tenant: plan windows, fetch, load, rebuild once."""
        first = _parse_day(start, "--start")
        # The options are checked against each other before any setting is read: a range
        # the wrong way round is named even where the stack is not configured.
        after = _parse_day(end, "--end") if end else None
        if after is not None and after <= first:  # in the options' words, not the schema's
            raise typer.BadParameter(
                f"{end} is not after --start {start} (--end is the day after the last)",
                param_hint="--end",
            )
        now = pipeline_context(tenant).tenant_now()  # the tenant's clock (stkpi.clock)
        if after is None:  # up to the tenant's present hour, as a daily run is planned
            after = floor_hour(now)
            end = f"now ({after:%Y-%m-%d %H:%M} UTC)"
            if after <= first:
                raise typer.BadParameter(
                    f"--start {start} is not before {end}", param_hint="--start"
                )
        if after > now:  # the plan step refuses it too: marks must never pass now
            raise typer.BadParameter(
                f"{end} is in the future (now {now:%Y-%m-%d %H:%M} UTC): a backfill copies "
                "what ServiceTitan holds already; `stkpi daily` picks up from there",
                param_hint="--end",
            )
        body = {"run_type": "backfill", "entities": _names(entities), "start": first}
        body |= {"end": after, "run_id": _run_id("backfill")}
        if window_days:
            body["window_days"] = window_days
        _publish(decode(PlanMessage, body), "backfill", wait=wait, timeout=timeout, tenant=tenant)

    @app.command()
    def daily(wait: Wait = True, timeout: Timeout = 1800.0, tenant: TenantOption = None) -> None:
        """Publish the daily incremental plan (what Cloud Scheduler sends every morning)."""
        msg = PlanMessage(run_type="daily", run_id=_run_id("daily"))
        _publish(msg, "daily run", wait=wait, timeout=timeout, tenant=tenant)

    @app.command()
    def deletes(
        entities: DeletableEntities = "",
        allow_share: AllowShare = None,
        for_hours: Annotated[
            float, typer.Option(help="how long --allow-share holds", min=0.1, max=24 * 7)
        ] = 24.0,
        reason: Annotated[str, typer.Option(help="why (kept with the allowance)")] = "",
        wait: Wait = True,
        timeout: Timeout = 3600.0,
        tenant: TenantOption = None,
    ) -> None:
        """Key scan: find records deleted in ServiceTitan and mark them deleted in raw
        (what the weekly Cloud Scheduler job sends)."""
        msg = deletes_message(_names(entities), _run_id("deletes"))
        if allow_share is not None:
            ctx = pipeline_context(tenant)
            names = msg.entities or list(DELETABLE)
            allow_deletes(ctx, names, allow_share, for_hours, reason)
            console.print(
                f"allowed key scans to mark up to {allow_share:.1%} of {', '.join(names)} "
                f"for {for_hours:g} h"
            )
        ctx = _publish(msg, "key scan", wait=wait, timeout=timeout, tenant=tenant)
        if wait:
            render_scans(collect_status(ctx)["scans"])

    @app.command()
    def status(tenant: TenantOption = None) -> None:
        """Runs, windows by state, rows and lag per entity, dead letters (of every
        tenant: `stkpi dead-letters --tenant` lists one tenant's)."""
        report = collect_status(pipeline_context(tenant))
        render_status(report)

    register_demo(app)


def register_demo(app: typer.Typer) -> None:
    @app.command()
    def demo(
        scale: Annotated[float, typer.Option(help="tenant size; 1.0 = production volumes")] = 0.01,
        seed: Annotated[int, typer.Option()] = 42,
        window_days: WindowDays = None,  # the deployment's windows, as a real backfill
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
        now: Annotated[
            str | None,
            typer.Option(
                help="the simulated present, ISO UTC (default: this hour): the demo's tenant "
                "and what it prints follow from it, so a run can be repeated exactly"
            ),
        ] = None,
        tenants: Annotated[
            str | None,
            typer.Option(
                help="tenants the simulator serves besides the default one, each added, "
                'backfilled and run daily beside it: a tenants file, or "demo" for '
                "terraform/local.tenants.json (docs/TENANTS.md)"
            ),
        ] = None,
    ) -> None:
        """Start the local stack, backfill the simulated tenant (or yours, --own-tenant),
        run a daily increment, print the run summary and row counts, then stop the stack."""
        import os
        from pathlib import Path

        from stkpi_tools.cli.local import tenant_specs
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
            now=_parse_instant(now, "--now") if now else None,
            tenants=tenant_specs(tenants),
        )
