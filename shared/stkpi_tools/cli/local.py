"""``stkpi local``: start, stop and inspect the local stack (emulators, simulator, functions).

``up`` starts everything detached and records it in ``<root>/stack.json`` (root:
``$STKPI_STACK_ROOT`` or ``.stkpi/stack``); ``down`` stops exactly the recorded process
groups; ``env`` prints export lines for a shell; ``ps`` shows what is alive.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from stkpi.errors import StkpiError

local_app = typer.Typer(help="The local stack: emulators, simulator, function servers.")
console = Console()

DEFAULT_ROOT = Path(".stkpi") / "stack"


def _root(root: Path | None) -> Path:
    return Path(root or os.environ.get("STKPI_STACK_ROOT") or DEFAULT_ROOT)


RootOpt = typer.Option(None, "--root", help="Run dir (default $STKPI_STACK_ROOT or .stkpi/stack).")
TenantsOpt = typer.Option(
    None,
    "--tenants",
    help="Tenants the simulator serves besides the default one: a tenants file "
    '({"tenants": {"<id>": {"display_name", "time_zone", "seed", "scale"}}}), or "demo" for '
    "terraform/local.tenants.json. Their secrets go to <root>/secrets (ST_SECRETS_DIR); "
    "register each with `stkpi tenant add` (docs/TENANTS.md).",
)


@local_app.command()
def up(
    scale: float = typer.Option(0.01, help="Simulator scale (1.0 = production volumes)."),
    seed: int = typer.Option(42, help="Simulator seed."),
    st_api_base_url: str | None = typer.Option(
        None, help="Use this ServiceTitan server instead of starting the simulator."
    ),
    dispatcher: int | None = typer.Option(
        None, help="Pull subscriptions + a dispatcher with this concurrency (default: push)."
    ),
    functions: bool = typer.Option(True, help="Start the four function servers."),
    now: str | None = typer.Option(
        None,
        help="The simulator's clock, ISO UTC (default 2025-10-01T12:00Z): the pipeline's "
        "'now' on the local stack (plans, validations, report)",
    ),
    tenants: str | None = TenantsOpt,
    root: Path | None = RootOpt,
) -> None:
    """Start the whole stack in the background and print its endpoints.

    Settings you give in the environment or a .env file (REPORT_TIMEZONE, ST_PAGE_SIZE,
    ST_RATE_LIMIT_PER_SECOND; with --st-api-base-url also ST_AUTH_URL, ST_TENANT_ID,
    ST_CLIENT_ID, ST_CLIENT_SECRET, ST_APP_KEY) win over the local defaults, for the CLI
    and the function servers alike; credentials are never written to stack.json."""
    from stkpi_tools.dotenv import environ_with_dotenv
    from stkpi_tools.localstack import Stack, StackInfo
    from stkpi_tools.localstack.process import pgid_alive
    from stkpi_tools.localstack.settings_env import user_settings

    run_dir = _root(root)
    if (run_dir / "stack.json").exists():
        info = StackInfo.load(run_dir)
        if any(pgid_alive(pid) for pid in info.pids.values()):
            raise StkpiError(f"a local stack is already running ({run_dir}); `stkpi local down`")
    if now is not None and st_api_base_url:
        raise StkpiError("--now sets the simulator's clock; another server keeps its own")
    if tenants is not None and st_api_base_url:
        raise StkpiError("--tenants are the simulator's; another server serves its own")
    specs = tenant_specs(tenants)
    sim_args: dict[str, object] = {"scale": scale, "seed": seed}
    if now is not None:
        from stkpi_tools.cli.sim import parse_now

        sim_args["now"] = parse_now(now).isoformat()
    stack = Stack(
        run_dir,
        sim_args=sim_args,
        st_api_base_url=st_api_base_url,
        functions=functions,
        dispatcher_concurrency=dispatcher,
        detached=True,
        user_settings=user_settings(environ_with_dotenv(os.environ, Path.cwd())[0]),
        tenants=specs,
    )
    with console.status("starting the local stack"):
        info = stack.start()
    table = Table("service", "endpoint", "pgid", "log")
    for name in info.ports:
        table.add_row(name, info.url(name), str(info.pids[name]), info.logs.get(name, ""))
    console.print(table)
    console.print(f"recorded in {run_dir / 'stack.json'}; `eval $(stkpi local env)` for a shell")
    if specs:
        _print_tenants(info)


def tenant_specs(tenants: str | None):
    """``--tenants``: a tenants file, or ``demo`` (terraform/local.tenants.json)."""
    from stkpi_tools.localstack.tenants import demo_tenants_file
    from stkpi_tools.sim.config import SimConfig, load_tenant_specs

    if tenants is None:
        return ()
    path = demo_tenants_file() if tenants == "demo" else Path(tenants)
    try:
        specs = load_tenant_specs(path)
        SimConfig(tenants=specs).tenant_configs()  # ids and credentials told apart
    except ValueError as exc:
        raise StkpiError(f"--tenants: {exc}") from None
    return specs


def _print_tenants(info) -> None:
    """Each added tenant and the command that registers it."""
    from stkpi_tools.localstack.tenants import add_command
    from stkpi_tools.sim.admin import SimAdmin

    admin = SimAdmin(info.url("simulator"))
    try:
        served = admin.tenants()
    finally:
        admin.close()
    prefix = str(info.tf_variables.get("name_prefix") or "")
    console.print(f"the simulator serves tenants {', '.join(t['tenant_id'] for t in served)} "
                  f"(default {served[0]['tenant_id']}); register each added one:")  # fmt: skip
    for tenant in served[1:]:
        console.print(f"  {add_command(tenant, prefix)}", soft_wrap=True)


@local_app.command()
def down(root: Path | None = RootOpt) -> None:
    """Stop exactly the process groups recorded by `stkpi local up`."""
    from stkpi_tools.localstack import StackInfo

    run_dir = _root(root)
    if not (run_dir / "stack.json").exists():
        console.print(f"no local stack recorded at {run_dir}")
        return
    info = StackInfo.load(run_dir)
    info.stop()
    (run_dir / "stack.json").unlink(missing_ok=True)
    console.print(f"stopped {', '.join(reversed(info.owned))}")


@local_app.command()
def env(root: Path | None = RootOpt) -> None:
    """Print `export` lines for every variable the pipeline needs on the local stack."""
    from stkpi_tools.localstack import StackInfo

    info = StackInfo.load(_root(root))
    for key, value in sorted(info.env().items()):
        typer.echo(f"export {key}={shlex.quote(value)}")


@local_app.command("ps")
def ps(root: Path | None = RootOpt) -> None:
    """Show the recorded services and whether each is alive."""
    from stkpi_tools.localstack import StackInfo

    info = StackInfo.load(_root(root))
    table = Table("service", "endpoint", "pgid", "alive")
    for name, alive in info.alive().items():
        table.add_row(name, info.url(name), str(info.pids[name]), "yes" if alive else "NO")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(local_app, name="local")
