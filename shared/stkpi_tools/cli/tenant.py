"""``stkpi tenant``: the tenant's own configuration, from the tenant.

``init`` reads the tenant's business units and reports from ServiceTitan and writes its BU
map and report map where rebuild_dims reads them (``stkpi.tenant_maps``: tables in the ops
dataset, keyed by tenant); ``map-bu`` and ``map-report`` set one row; ``import`` loads maps
from CSV files (the demo's simulated tenant: ``sql/seeds/*.csv``); ``show`` prints them.
Every write is a new version of the whole map: the old one stays, for the record.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from stkpi.errors import ConfigError

tenant_app = typer.Typer(
    help="The deployment's tenants (add, list) and each tenant's BU map and report map."
)


def _context():
    from stkpi_tools.cli.env import pipeline_context

    return pipeline_context()


def _tenant(pctx, given: str | None, *, st: bool) -> str:
    if given:
        return given
    settings = pctx.st_settings if st else pctx.settings
    if not settings.st_tenant_id:
        raise ConfigError("ST_TENANT_ID is not set: pass --tenant-id or set it (.env)")
    return str(settings.st_tenant_id)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _print_maps(bus, sources, console: Console) -> None:
    from stkpi.tenant_maps import map_bu_command

    table = Table(title="BU map")
    for col in ("business unit", "id", "reporting name", "role", "region", "active"):
        table.add_column(col)
    for b in bus or ():
        table.add_row(b.bu_name, str(b.bu_id or ""), b.normalized_name or "",
                      b.role or "[yellow]not mapped[/]", b.region or "", str(b.active))  # fmt: skip
    console.print(table)
    for b in bus or ():
        if not b.mapped and b.active is not False:
            console.print(f"  map it: {map_bu_command(b.bu_name)}", highlight=False)
    table = Table(title="report map")
    for col in ("kpi", "kind", "category", "report", "bu field", "date field", "id", "value"):
        table.add_column(col)
    for s in sources:
        table.add_row(s.kpi, s.kind, s.category, str(s.report_id), s.bu_field, s.date_field,
                      s.id_field, s.value_field)  # fmt: skip
    console.print(table)


@tenant_app.command("init")
def init(
    dry_run: bool = typer.Option(False, "--dry-run", help="print the maps, write nothing"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Read the tenant's business units and reports and write its maps. Business units
    named <region>-Sales / <region>-Production are mapped by their name; any other is
    listed with the command that maps it. Exit 1 while something is left to map."""
    from stkpi_tools.tenant.init import init_tenant

    got = init_tenant(_context(), write=not dry_run)
    tenant, bus, sources = got.tenant_id, got.bus, got.sources
    unmapped, no_report = got.unmapped, got.kpis_without_reports
    if as_json:
        typer.echo(json.dumps({
            "tenant_id": tenant, "written": not dry_run,
            "business_units": [b.__dict__ for b in bus],
            "report_map": [s.__dict__ for s in sources],
            "unmapped_business_units": unmapped, "kpis_without_reports": no_report,
        }, indent=2, default=str))  # fmt: skip
    else:
        console = Console()
        _print_maps(bus, sources, console)
        verb = "would write" if dry_run else "wrote"
        console.print(f"{verb} tenant {tenant}'s maps: {len(bus)} business units "
                      f"({len(unmapped)} not mapped), {len(sources)} report rows")  # fmt: skip
        if no_report:
            console.print(
                f"no reports found for {', '.join(no_report)}: `stkpi reconcile discover` lists "
                "the tenant's reports; map them with `stkpi tenant map-report`"
            )
    if unmapped or no_report:
        raise typer.Exit(1)


@tenant_app.command("map-bu")
def map_bu(
    name: str = typer.Option(..., help="the business unit's name in ServiceTitan"),
    role: str = typer.Option(..., help="Sales or Production"),
    region: str = typer.Option(..., help="the region it rolls up to (e.g. PHX)"),
    reporting_name: str | None = typer.Option(None, "--as", help="its name in the KPIs"),
    tenant_id: str | None = typer.Option(None, help="default: ST_TENANT_ID"),
) -> None:
    """Map one business unit (a new version of the tenant's BU map)."""
    from stkpi.kpi_config import ROLES
    from stkpi.tenant_maps import TenantBu, read_bu_map, write_bu_map

    if role not in ROLES:
        raise ConfigError(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    pctx = _context()
    tenant = _tenant(pctx, tenant_id, st=False)
    bus = list(read_bu_map(pctx.bigquery, pctx.settings, tenant) or ())
    match = [i for i, b in enumerate(bus) if b.bu_name.lower() == name.strip().lower()]
    prev = bus[match[0]] if match else TenantBu(name.strip())
    row = TenantBu(prev.bu_name, prev.bu_id, reporting_name or prev.normalized_name or prev.bu_name,
                   role, region, prev.active)  # fmt: skip
    if match:
        bus[match[0]] = row
    else:
        bus.append(row)
    write_bu_map(pctx.bigquery, pctx.settings, tenant, bus, source="mapped", at=_now())
    Console().print(f"mapped {row.bu_name} -> {row.normalized_name} ({role}, {region}); "
                    "the next rebuild uses it", highlight=False)  # fmt: skip


@tenant_app.command("map-report")
def map_report(
    kpi: str = typer.Option(...), kind: str = typer.Option(..., help="total or records"),
    category: str = typer.Option(...), report_id: int = typer.Option(...),
    bu_field: str = typer.Option(...), date_field: str = typer.Option(""),
    id_field: str = typer.Option(""), value_field: str = typer.Option(""),
    tenant_id: str | None = typer.Option(None, help="default: ST_TENANT_ID"),
) -> None:  # fmt: skip
    """Set which report feeds one KPI's reconciliation (rows as `stkpi reconcile discover`
    lists the reports; a new version of the tenant's report map)."""
    from stkpi.reconcile.mapping import parse_row
    from stkpi.tenant_maps import read_report_map, write_report_map

    pctx = _context()
    tenant = _tenant(pctx, tenant_id, st=False)
    row = parse_row("--options", {"tenant_id": tenant, "kpi": kpi, "kind": kind,
                                  "category": category, "report_id": str(report_id),
                                  "bu_field": bu_field, "date_field": date_field,
                                  "id_field": id_field, "value_field": value_field})  # fmt: skip
    rows = [s for s in read_report_map(pctx.bigquery, pctx.settings, tenant)
            if (s.kpi, s.kind) != (row.kpi, row.kind)]  # fmt: skip
    write_report_map(pctx.bigquery, pctx.settings, tenant, [*rows, row], source="mapped", at=_now())
    Console().print(f"{kpi} {kind}: report {report_id} ({category})", highlight=False)


_BU_CSV = typer.Option(None, help="a BU map CSV (sql/seeds/bu_map.csv's columns)")
_REPORT_CSV = typer.Option(None, help="a report map CSV (this tenant's rows)")


@tenant_app.command("import")
def import_maps(
    bu_map: Path | None = _BU_CSV,
    report_map: Path | None = _REPORT_CSV,
    tenant_id: str | None = typer.Option(None, help="default: ST_TENANT_ID"),
) -> None:
    """Write maps from CSV files, e.g. the demo's simulated tenant (sql/seeds/)."""
    pctx = _context()
    tenant = _tenant(pctx, tenant_id, st=False)
    written = import_csv(pctx, tenant, bu_map, report_map)
    Console().print(f"imported tenant {tenant}'s maps: {written}", highlight=False)


def import_csv(pctx, tenant: str, bu_map: Path | None, report_map: Path | None) -> str:
    """Write the maps in these CSV files as the tenant's (a new version each)."""
    from stkpi.kpi_config import load_bu_map
    from stkpi.reconcile.mapping import load_report_map
    from stkpi.tenant_maps import TenantBu, write_bu_map, write_report_map

    if bu_map is None and report_map is None:
        raise ConfigError("nothing to import: give --bu-map and/or --report-map")
    at, done = _now(), []
    if bu_map is not None:
        rows = [TenantBu(r.bu_name, None, r.normalized_name, r.role, r.region)
                for r in load_bu_map(bu_map)]  # fmt: skip
        write_bu_map(pctx.bigquery, pctx.settings, tenant, rows, source="imported", at=at)
        done.append(f"{len(rows)} business units")
    if report_map is not None:
        rows = [r for r in load_report_map(report_map) if r.tenant_id == tenant]
        if not rows:
            raise ConfigError(f"{report_map}: no rows for tenant {tenant}")
        write_report_map(pctx.bigquery, pctx.settings, tenant, rows, source="imported", at=at)
        done.append(f"{len(rows)} report rows")
    return ", ".join(done)


@tenant_app.command("show")
def show(tenant_id: str | None = typer.Option(None, help="default: ST_TENANT_ID")) -> None:
    """The tenant's current BU map and report map."""
    from stkpi.tenant_maps import read_bu_map, read_report_map

    pctx = _context()
    tenant = _tenant(pctx, tenant_id, st=False)
    bus = read_bu_map(pctx.bigquery, pctx.settings, tenant)
    if bus is None:
        Console().print(f"tenant {tenant} has no BU map yet: run `stkpi tenant init`")
    _print_maps(bus, read_report_map(pctx.bigquery, pctx.settings, tenant), Console())


def _secret_reader():
    import os

    from stkpi.secrets import SecretReader
    from stkpi_tools.tenant.add import SECRETS_DIR_ENV, directory_accessor

    root = os.environ.get(SECRETS_DIR_ENV)
    return SecretReader(directory_accessor(Path(root)) if root else None)


@tenant_app.command("add")
def add(
    tenant_id: str = typer.Option(..., help="ServiceTitan's tenant id (a number)"),
    name: str = typer.Option(..., help="the tenant's display name (e.g. the company)"),
    time_zone: str | None = typer.Option(None, help="IANA zone of its KPIs; default: REPORT_TIMEZONE"),
    weeks_start: str = typer.Option("monday", help="the day its weeks start on"),
    name_prefix: str = typer.Option("", help="terraform's name_prefix (the secrets' names)"),
    client_id_secret: str | None = typer.Option(None, help="default: terraform's name"),
    client_secret_secret: str | None = typer.Option(None, help="default: terraform's name"),
    app_key_secret: str | None = typer.Option(None, help="default: terraform's name"),
    allow_warnings: bool = typer.Option(False, "--allow-warnings", help="add despite warnings"),
) -> None:  # fmt: skip
    """Add a tenant: read its credentials from its own Secret Manager secrets (terraform's
    `tenants` variable creates them), run every doctor check with them, and register it
    only if they pass. Nothing is written when a check fails."""
    from stkpi.combined import refresh_after_add
    from stkpi.tenants import Tenant, secret_names
    from stkpi_tools.tenant.add import add_tenant

    pctx = _context()
    settings = pctx.settings
    secrets = secret_names(settings.gcp_project, tenant_id, name_prefix)
    given = {"ST_CLIENT_ID": client_id_secret, "ST_CLIENT_SECRET": client_secret_secret,
             "ST_APP_KEY": app_key_secret}  # fmt: skip
    secrets |= {env: name for env, name in given.items() if name}
    tenant = Tenant(tenant_id.strip(), name, secrets, time_zone or settings.report_timezone,
                    weeks_start.strip().lower())  # fmt: skip
    added = add_tenant(pctx.bigquery, settings, tenant, _secret_reader(), at=_now(),
                       allow_warnings=allow_warnings)  # fmt: skip
    verb = "updated" if added.replaced else "added"
    warned = [c.name for c in added.report.checks if c.status == "warn"]
    Console().print(
        f"{verb} tenant {tenant.tenant_id} ({tenant.display_name}): doctor "
        f"{added.report.status}" + (f" (warnings: {', '.join(warned)})" if warned else ""),
        highlight=False,
    )
    Console().print(refresh_after_add(pctx.bigquery, settings), highlight=False)


@tenant_app.command("list")
def list_tenants(
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """The deployment's tenants: its default tenant (its own settings) and every tenant
    added with `stkpi tenant add`."""
    from stkpi.tenants import default_tenant_id, read_tenants

    pctx = _context()
    settings = pctx.settings
    default = default_tenant_id(settings)
    rows = [{"tenant_id": default or "(from its secret)", "display_name": "default tenant",
             "time_zone": settings.report_timezone, "weeks_start": "monday",
             "secrets": dict(settings.st_secrets), "default": True}]  # fmt: skip
    rows += [{"tenant_id": t.tenant_id, "display_name": t.display_name, "time_zone": t.time_zone,
              "weeks_start": t.weeks_start, "secrets": t.secrets, "default": False}
             for t in read_tenants(pctx.bigquery, settings)]  # fmt: skip
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="tenants")
    for col in ("tenant", "name", "time zone", "weeks start", "secrets"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["tenant_id"], r["display_name"], r["time_zone"], r["weeks_start"],
                      ", ".join(r["secrets"].values()) or "(values in the settings)")  # fmt: skip
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(tenant_app, name="tenant")
