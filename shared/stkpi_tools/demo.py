"""The README's main job: the whole pipeline on the local stack, start to finish.

Starts the emulators, the ServiceTitan simulator and the four function servers (Pub/Sub
push, as deployed), backfills the simulated tenant, moves the simulator's clock a day
(new records and edits of old ones), runs the daily increment, prints the run summary
and the row counts per table, and ends with the daily rebuild's reconciliation of the KPIs
with ServiceTitan's reports (and the simulator's count of refused report calls: zero), and
stops exactly what it started.

With ``own_tenant`` the same run goes to the user's ServiceTitan tenant instead of the
simulator: its settings come from the environment or ``.env`` as for ``stkpi local up
--st-api-base-url`` (``own_tenant_settings``), the backfill covers ``since`` (a year by
default) up to now, and the daily increment follows at once. The credentials reach the
processes of the functions that call ServiceTitan only (fetch_window, and rebuild_dims for
the reconciliation): never stack.json, a log line or the report.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from stkpi import sqlfiles
from stkpi.config import load_settings
from stkpi.context import PipelineContext
from stkpi.errors import ConfigError, StkpiError
from stkpi.messages import PlanMessage
from stkpi.planner import floor_hour
from stkpi.status import collect_status
from stkpi.table_stats import row_counts
from stkpi_tools.render import print_stored, render_status
from stkpi_tools.runs import publish_plan, wait_for_run
from stkpi_tools.sim.config import TenantSpec
from stkpi_tools.stack_root import stack_root

console = Console()
DEMO_ROOT = Path(".stkpi") / "demo"


# What --own-tenant needs from the user (environment or .env), besides the optional
# REPORT_TIMEZONE, ST_PAGE_SIZE and ST_RATE_LIMIT_PER_SECOND that `local up` takes too.
OWN_TENANT_REQUIRED = (
    "ST_AUTH_URL",
    "ST_TENANT_ID",
    "ST_CLIENT_ID",
    "ST_CLIENT_SECRET",
    "ST_APP_KEY",
)
SERVICETITAN_API = "https://api.servicetitan.io"
OWN_TENANT_HISTORY_DAYS = 365


@dataclass(frozen=True)
class OwnTenant:
    """Where the user's tenant is, and the settings the local deployment takes from them.

    ``user`` holds the credentials; it goes to ``Stack(user_settings=...)``, which hands
    them to the processes of the functions that call ServiceTitan alone. ``repr`` shows the keys, never values, so
    an error or log line that prints this object leaks nothing."""

    base_url: str
    auth_url: str
    user: Mapping[str, str] = field(repr=False)
    from_dotenv: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"OwnTenant(base_url={self.base_url!r}, auth_url={self.auth_url!r}, "
            f"settings={sorted(self.user)}, from_dotenv={list(self.from_dotenv)})"
        )


def own_tenant_settings(environ: Mapping[str, str], cwd: Path) -> OwnTenant:
    """The user's tenant from the environment completed by ``cwd/.env`` (the environment
    wins), as ``stkpi local up --st-api-base-url`` and ``stkpi doctor`` read it.
    ``ST_API_BASE_URL`` defaults to ServiceTitan's production API. Every missing or
    malformed setting is named in one ``ConfigError`` with the fix, before anything
    starts."""
    from stkpi_tools.dotenv import environ_with_dotenv
    from stkpi_tools.localstack.settings_env import user_settings

    env, from_file = environ_with_dotenv(environ, cwd)
    env.setdefault("ST_API_BASE_URL", SERVICETITAN_API)
    problems = [
        f"  - {k}: is required for --own-tenant but not set"
        for k in OWN_TENANT_REQUIRED
        if not env.get(k)
    ]
    if not problems:
        try:  # the URLs, time zone, page size and rate as the pipeline would read them
            load_settings({"GCP_PROJECT": "local", "LANDING_BUCKET": "local", **env})
        except ConfigError as exc:
            problems = str(exc).splitlines()[1:]
    if problems:
        raise ConfigError(
            "stkpi demo --own-tenant takes your ServiceTitan settings from the environment "
            "or a .env file in the current directory:\n"
            + "\n".join(problems)
            + "\nset them (README: 'Try it on your own tenant'), then check the connection "
            "with `stkpi doctor`"
        )
    user = user_settings(env)
    return OwnTenant(
        base_url=env["ST_API_BASE_URL"].rstrip("/"),
        auth_url=env["ST_AUTH_URL"].rstrip("/"),
        user=user,
        from_dotenv=tuple(k for k in from_file if k in user),
    )


def backfill_since(text: str | None, *, own_tenant: bool, now: datetime) -> datetime:
    """The backfill's first day: ``text`` (YYYY-MM-DD), else the simulator's whole history
    or, on a real tenant, the last ``OWN_TENANT_HISTORY_DAYS`` days (a demo, not the full
    backfill that `stkpi doctor` estimates)."""
    from stkpi_tools.sim.config import HISTORY_START

    if text is None:
        if not own_tenant:
            return HISTORY_START
        return (now - timedelta(days=OWN_TENANT_HISTORY_DAYS)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
    try:
        day = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--since must be a date YYYY-MM-DD, got {text!r}") from None
    day = day.replace(tzinfo=day.tzinfo or UTC)
    if day >= now:
        raise ConfigError(f"--since {text} is not in the past")
    return day


def _init_tenant(env: dict[str, str], own: OwnTenant, console: Console) -> None:
    """Your tenant's BU map and report map, from your tenant (``stkpi tenant init``), before
    the first rebuild reads them. The simulator's stack writes the demo's maps itself."""
    from stkpi_tools.tenant.init import init_tenant

    got = init_tenant(PipelineContext(load_settings({**env, **own.user})))
    console.print(f"  tenant {got.tenant_id}: {len(got.bus)} business units "
                  f"({len(got.unmapped)} not mapped), {len(got.sources)} report rows")  # fmt: skip
    for name in got.unmapped:
        console.print(f"    not mapped: {name}: `stkpi tenant map-bu` maps it", highlight=False)


def run_demo(
    *,
    scale: float,
    seed: int,
    window_days: int | None,
    keep: bool,
    timeout: float,
    dispatcher: int | None,
    own_tenant: OwnTenant | None = None,
    since: str | None = None,
    now: datetime | None = None,
    tenants: Sequence[TenantSpec] = (),
) -> None:
    """``tenants``: tenants the simulator serves besides the default one; each is
    registered as ``stkpi tenant add`` does, backfilled and run daily beside it, and its
    summary printed after the default tenant's (docs/TENANTS.md)."""
    from stkpi_tools.localstack import Stack, StackInfo
    from stkpi_tools.localstack.process import pgid_alive
    from stkpi_tools.sim.admin import SimAdmin

    # The simulator's clock is the pipeline's "now" (stkpi.clock): it starts a day before
    # ``now`` (default: this hour), the backfill runs up to it, then it moves a day forward
    # and the daily run is planned up to it. The tenant, and so everything the demo prints,
    # is a function of that hour (and the scale and seed): `--now` replays one. A real
    # tenant's clock is the wall clock: the backfill runs up to this hour.
    if own_tenant and tenants:
        raise ConfigError("--tenants are the simulator's; your tenant's server has its own")
    if own_tenant and now is not None:
        raise ConfigError("--now sets the simulator's clock; your tenant's is the wall clock")
    present = floor_hour(now or datetime.now(UTC))
    sim_now = present - timedelta(days=1)
    end = present if own_tenant else sim_now
    start = backfill_since(since, own_tenant=own_tenant is not None, now=end)
    # A kept stack is `local up`'s (detached, in its run dir), so the README's commands,
    # `stkpi status` ... `stkpi local down`, find it after the demo has exited.
    root = stack_root() if keep else DEMO_ROOT
    running = keep and (root / "stack.json").exists()
    if running and any(pgid_alive(pid) for pid in StackInfo.load(root).pids.values()):
        raise StkpiError(f"a local stack is already running ({root}); `stkpi local down`")
    # The demo starts from empty services: fake-gcs keeps its objects on disk, and a demo
    # run again within the hour has the same run ids, whose old control objects would
    # make the new runs look finished before they started.
    shutil.rmtree(root / "gcs", ignore_errors=True)
    stack = Stack(
        root,
        with_simulator=own_tenant is None,
        sim_args={"scale": scale, "seed": seed, "now": sim_now.isoformat()},
        st_api_base_url=own_tenant.base_url if own_tenant else None,
        user_settings=own_tenant.user if own_tenant else None,
        functions=True,
        # Pub/Sub push delivers at most 2 messages at a time on the emulator; the dispatcher
        # gives the fan-out Cloud Functions would (see DESIGN.md, local stack).
        dispatcher_concurrency=dispatcher,
        detached=keep,
        tenants=tenants,
    )
    started = time.monotonic()
    tenant = f"your tenant at {own_tenant.base_url}" if own_tenant else "the simulator"
    console.rule(f"[bold]st-kpi demo: local stack, {tenant}")
    if own_tenant and own_tenant.from_dotenv:
        console.print(f"  from .env: {', '.join(own_tenant.from_dotenv)}")
    info = stack.start()
    try:
        env = info.env()
        os.environ.update(env)
        ctx = PipelineContext(load_settings(env))
        for name, url in sorted(info.urls().items()):
            console.print(f"  {name:<14} {url}")
        if own_tenant:
            _init_tenant(env, own_tenant, console)
        contexts = [ctx, *_add_tenants(ctx, tenants, console)]

        console.rule(f"[bold]backfill {start:%Y-%m-%d} .. {end:%Y-%m-%d %H:00} UTC")
        backfill_id = f"demo-backfill-{end:%Y%m%dT%H}"
        plan = PlanMessage(
            run_type="backfill", start=start, end=end, window_days=window_days, run_id=backfill_id
        )
        _run_everywhere(contexts, plan, timeout)

        if own_tenant:
            console.rule("[bold]daily increment")
        else:
            console.rule("[bold]a day passes in the simulator; daily increment")
            SimAdmin(env["ST_API_BASE_URL"]).advance(24)
        daily_id = f"demo-daily-{end:%Y%m%dT%H}"
        _run_everywhere(contexts, PlanMessage(run_type="daily", run_id=daily_id), timeout)

        console.rule("[bold]summary")
        render_status(collect_status(ctx))
        render_table_counts(ctx)
        render_validations(ctx)
        write_report(ctx)
        render_reconciliation(ctx, None if own_tenant else env["ST_API_BASE_URL"])
        for added in contexts[1:]:
            _summarize_added(added)
        console.print(f"demo finished in {time.monotonic() - started:.0f}s")
    except BaseException:
        if keep:  # a failed demo leaves nothing running, kept or not
            stack.stop()
            (root / "stack.json").unlink(missing_ok=True)
        raise
    finally:
        if not keep:
            stack.stop()
    if keep:
        console.print(
            f"stack left running ({root}): `stkpi status`, `stkpi explain` ... work on it; "
            "stop it with `./dev stkpi local down`"
        )


def _add_tenants(
    ctx: PipelineContext, specs: Sequence[TenantSpec], console: Console
) -> list[PipelineContext]:
    """Register each added tenant as ``stkpi tenant add`` does (its doctor first, its
    datasets made, the combined view refreshed) and return its context."""
    from stkpi.combined import refresh_after_add
    from stkpi.secrets import SecretReader
    from stkpi.tenants import Tenant, secret_names
    from stkpi_tools.tenant.add import SECRETS_DIR_ENV, add_tenant, directory_accessor

    if not specs:  # the stack writes no secrets (ST_SECRETS_DIR) without added tenants
        return []
    reader = SecretReader(directory_accessor(Path(os.environ[SECRETS_DIR_ENV])))
    contexts = []
    for spec in specs:
        tenant = Tenant(
            spec.tenant_id,
            spec.display_name or f"Simulated tenant {spec.tenant_id}",
            secret_names(ctx.settings.gcp_project, spec.tenant_id),
            spec.time_zone,
        )
        added = add_tenant(ctx.bigquery, ctx.settings, tenant, reader, at=datetime.now(UTC))
        console.print(f"  added tenant {tenant.tenant_id} ({tenant.display_name}, "
                      f"{tenant.time_zone}): doctor {added.report.status}")  # fmt: skip
        contexts.append(ctx.for_tenant(tenant.tenant_id))
    if specs:
        console.print(f"  {refresh_after_add(ctx.bigquery, ctx.settings)}", highlight=False)
    return contexts


def _run_everywhere(contexts: Sequence[PipelineContext], plan: PlanMessage, timeout: float) -> None:
    """``plan`` for every tenant at once (each context's bus stamps its tenant), then wait
    for each: the tenants' runs share the deployment, never their budgets."""
    for tctx in contexts:
        publish_plan(tctx, plan)
    for tctx in contexts:
        wait_for_run(tctx, plan.run_id or "", timeout=timeout)


def _summarize_added(ctx: PipelineContext) -> None:
    tenant = ctx.tenant
    label = f"{tenant.display_name} ({tenant.tenant_id})" if tenant else "added tenant"
    console.rule(f"[bold]tenant {label}")
    render_status(collect_status(ctx))
    render_validations(ctx)
    write_report(ctx)


def write_report(ctx: PipelineContext) -> None:
    """The KPI dashboard of the demo tenant (an added tenant's: ``kpi-report-t<id>.html``,
    its explain commands naming it), as one offline HTML file."""
    from stkpi.report import build_report

    tenant = ctx.tenant.tenant_id if ctx.tenant else None
    path = Path(f"kpi-report-t{tenant}.html" if tenant else "kpi-report.html").resolve()
    now = ctx.tenant_now()
    path.write_text(build_report(ctx.bigquery, ctx.settings, now=now, tenant=tenant))
    console.print(f"KPI report: [bold]{path}[/] (open it in a browser; works offline)")


def render_validations(ctx: PipelineContext) -> None:
    """The stoplight of the last run's validations, and every check that is not GREEN,
    so the demo's last screen says whether the numbers can be trusted."""
    rows = list(
        ctx.bigquery.query_and_wait(sqlfiles.render("report/validations.sql", ctx.settings))
    )
    by_status: dict[str, int] = {}
    for row in rows:
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
    if not rows:
        console.print("validations: none stored (the rebuild did not run its checks)")
        return
    overall = next((s for s in ("RED", "YELLOW") if by_status.get(s)), "GREEN")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
    console.print(f"validations: overall {overall} ({counts})")
    for row in rows:
        if row["status"] != "GREEN":
            console.print(f"  {row['status']} {row['check_name']}: {row['message']}")


def render_table_counts(ctx: PipelineContext) -> None:
    """Row counts of every table in the raw, dim, mart and ops datasets."""
    client = ctx.bigquery
    table = Table(title="Row counts per table")
    table.add_column("dataset")
    table.add_column("table")
    table.add_column("rows", justify="right")
    listed: list[tuple[str, str, str]] = []  # (dataset, table, project.dataset.table)
    for layer in ("raw", "dim", "mart", "ops"):
        ds = ctx.settings.dataset(layer)
        dataset = f"{ctx.settings.gcp_project}.{ds}"
        for item in sorted(client.list_tables(dataset), key=lambda t: t.table_id):
            if item.table_type != "VIEW":
                listed.append((ds, item.table_id, f"{dataset}.{item.table_id}"))
    counts = row_counts(client, ctx.settings, [ref for _, _, ref in listed])
    for ds, name, ref in listed:
        table.add_row(ds, name, f"{counts[ref]:,}")
    console.print(table)


def render_reconciliation(ctx: PipelineContext, sim_url: str | None) -> None:
    """The last rebuild's reconciliation with ServiceTitan's reports (ops.reconciliation),
    then, on the simulator, how many report calls it refused (the limit: never exceeded)."""
    from stkpi_tools.sim.admin import SimAdmin

    print_stored(ctx, console)
    if sim_url is not None:
        stats = SimAdmin(sim_url).stats()
        calls = sum(v for k, v in stats["counters"].items() if k.startswith("report_calls_"))
        console.print(
            f"ServiceTitan Reporting API: {calls} report calls, "
            f"{stats.get('report_throttled_429', 0)} refused with 429 (once a minute per report)"
        )
