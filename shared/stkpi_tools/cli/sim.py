"""``stkpi sim``: run the ServiceTitan simulator, or dump its ground truth.

The server binds 127.0.0.1 only and prints its base URL and the fake credentials (they open
nothing but the simulator).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import typer

from stkpi.errors import ConfigError

sim_app = typer.Typer(help="ServiceTitan API simulator.", no_args_is_help=True)


def parse_now(value: str | None) -> datetime:
    """``--now``: an ISO-8601 time (naive = UTC), or the simulator's default clock."""
    from stkpi_tools.sim.config import DEFAULT_NOW

    if value is None:
        return DEFAULT_NOW
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--now: {value!r} is not an ISO-8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


TenantsOpt = typer.Option(
    None,
    "--tenants",
    help='JSON file of more tenants to serve, by tenant id: {"2000": {"seed": 7, "scale": '
    '0.004, "time_zone": "America/Los_Angeles", "display_name": "..."}} (docs/TENANTS.md).',
)


@sim_app.command()
def serve(
    port: int = typer.Option(8765, help="Port on 127.0.0.1 (0 = any free port)."),
    scale: float = typer.Option(0.002, help="1.0 = production volumes."),
    seed: int = typer.Option(42),
    now: str | None = typer.Option(None, help="Simulated 'now' (ISO UTC)."),
    rate_limit: float = typer.Option(60.0, help="Requests/s per (app key, tenant)."),
    token_ttl: int = typer.Option(900, help="Access token lifetime, seconds."),
    latency_ms: int = typer.Option(0, help="Added latency per API request (fixed part)."),
    latency_per_record_ms: float = typer.Option(
        0.0, min=0, help="Added latency per record requested (pageSize)."
    ),
    error_rate: float = typer.Option(0.0, help="Fraction of API requests answered 503."),
    burst_429: int = typer.Option(0, help="The next N API requests get 429."),
    truncate_pages: int = typer.Option(0, help="Truncate the next N data pages."),
    malformed_pages: int = typer.Option(0, help="Corrupt the JSON of the next N data pages."),
    edit_after_page: int | None = typer.Option(None, help="Edit records after this page."),
    edit_count: int = typer.Option(0, help="Records edited by --edit-after-page."),
    export_page_size: int = typer.Option(
        500, min=1, max=5000, help="Records in one answer of an export endpoint."
    ),
    tenants: Path | None = TenantsOpt,
) -> None:
    """Serve the simulator until interrupted."""
    from werkzeug.serving import make_server

    from stkpi_tools.sim.config import SimConfig, load_tenant_specs
    from stkpi_tools.sim.server import create_app, sim_env

    if not 0 < scale <= 5:
        raise ConfigError(f"--scale must be in (0, 5], got {scale}")
    try:
        specs = load_tenant_specs(tenants) if tenants is not None else ()
    except ValueError as exc:
        raise ConfigError(f"--tenants: {exc}") from None
    config = SimConfig(
        scale=scale, seed=seed, now=parse_now(now), rate_limit_per_second=rate_limit,
        token_ttl_seconds=token_ttl, latency_ms=latency_ms,
        latency_per_record_ms=latency_per_record_ms, error_rate=error_rate,
        burst_429=burst_429, truncate_pages=truncate_pages, malformed_pages=malformed_pages,
        edit_after_page=edit_after_page, edit_count=edit_count,
        export_page_size=export_page_size, tenants=specs,
    )  # fmt: skip
    started = time.monotonic()
    try:
        app = create_app(config)
    except ValueError as exc:
        raise ConfigError(f"--tenants: {exc}") from None
    server = make_server("127.0.0.1", port, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    typer.echo(f"tenant built in {time.monotonic() - started:.1f}s (scale={scale}, seed={seed})")
    typer.echo(f"simulator listening on {url}")
    for key, value in sim_env(url, url, config).items():
        typer.echo(f"export {key}={value}")
    for spec in specs:
        typer.echo(f"also serving tenant {spec.tenant_id} (seed {spec.seed}, scale {spec.scale}, "
                   f"{spec.time_zone}): its credentials at GET {url}/_sim/tenants")  # fmt: skip
    sys.stdout.flush()
    # Ctrl-C stops it even when started by a process that ignores SIGINT (a child
    # inherits an ignored signal, and Python then installs no handler of its own).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@sim_app.command()
def snapshot(
    entity: str = typer.Argument(..., help="Entity name from the registry."),
    scale: float = typer.Option(0.002),
    seed: int = typer.Option(42),
    now: str | None = typer.Option(None),
) -> None:
    """Print every visible record of an entity as NDJSON (no server needed)."""
    from stkpi.registry import get_entity
    from stkpi_tools.sim.config import SimConfig
    from stkpi_tools.sim.tenant import Tenant

    get_entity(entity)
    tenant = Tenant(SimConfig(scale=scale, seed=seed, now=parse_now(now)))
    for record in tenant.iter_snapshot(entity):
        sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")


def register(app: typer.Typer) -> None:
    app.add_typer(sim_app, name="sim")
