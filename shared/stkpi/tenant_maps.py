"""The tenant's own configuration, read at run time: its business-unit map and report map.

Which reporting name, role and region each of the tenant's business units has, and which
of its reports feed the reconciliation of each KPI, differ from tenant to tenant, so they
live in the warehouse (``${ops}.tenant_bu_map``, ``${ops}.tenant_report_map``; DDL in
sql/ops), not in the function's archive: the operator writes them (``stkpi tenant init``
reads the tenant's business units and reports; ``stkpi tenant map-bu`` / ``map-report``
correct one row), and rebuild_dims reads the latest version at every rebuild. Both tables
are append-only (a write is a whole map under a new ``map_version``) and keyed by
``tenant_id``, so one deployment can hold several tenants' maps. The simulator's maps
(``sql/seeds/*.csv``) are the demo's data, imported like any other tenant's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from google.api_core.exceptions import NotFound
from google.cloud import bigquery

from stkpi import sqlfiles
from stkpi.config import Settings
from stkpi.kpi_config import ROLES, BuMapRow, KpiConfig
from stkpi.reconcile.mapping import ReportSource

BU_TABLE = "tenant_bu_map"
REPORT_TABLE = "tenant_report_map"
SOURCES = ("discovered", "mapped", "imported")
_SUFFIXES = {"-sales": "Sales", "-production": "Production"}


@dataclass(frozen=True)
class TenantBu:
    """One of the tenant's business units and its mapping (role None: not mapped yet)."""

    bu_name: str
    bu_id: int | None = None
    normalized_name: str | None = None
    role: str | None = None
    region: str | None = None
    active: bool | None = None

    @property
    def mapped(self) -> bool:
        return self.role is not None

    def row(self) -> BuMapRow:
        return BuMapRow(
            self.bu_name, self.normalized_name or self.bu_name, str(self.role), self.region or ""
        )


def map_bu_command(bu_name: str) -> str:
    """The command that maps one business unit (ROLE: Sales or Production)."""
    quoted = bu_name.replace('"', '\\"')
    return f'stkpi tenant map-bu --name "{quoted}" --role ROLE --region REGION'


def propose(bu_name: str, bu_id: int | None = None, active: bool | None = None) -> TenantBu:
    """A business unit as discovered: KPIS.md's rule maps a name ending in -Sales or
    -Production (role from the suffix, region the text before it); any other is left
    unmapped for the operator."""
    name = bu_name.strip()
    for suffix, role in _SUFFIXES.items():
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            region = name[: -len(suffix)].strip()
            return TenantBu(name, bu_id, name, role, region, active)
    return TenantBu(name, bu_id, None, None, None, active)


def _latest(
    client: bigquery.Client, settings: Settings, table: str, tenant_id: str
) -> list[dict] | None:
    # the deployment's ops dataset, whichever tenant: the maps are keyed by tenant there
    sql = sqlfiles.render(
        "ops/tenant_map_latest.sql", settings, table=table, ops=settings.deployment_dataset("ops")
    )
    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("tenant_id", "STRING", tenant_id)]
    )
    try:
        rows = [dict(r.items()) for r in client.query_and_wait(sql, job_config=config)]
    except NotFound:  # a deployment from before the table existed: nothing written
        return None
    return rows or None


def read_bu_map(
    client: bigquery.Client, settings: Settings, tenant_id: str
) -> tuple[TenantBu, ...] | None:
    """The tenant's latest BU map, or None when none was ever written."""
    rows = _latest(client, settings, BU_TABLE, tenant_id)
    if rows is None:
        return None
    return tuple(
        TenantBu(
            r["bu_name"], r["bu_id"], r["normalized_name"], r["role"], r["region"], r["active"]
        )
        for r in sorted(rows, key=lambda r: r["bu_name"].lower())
    )


def read_report_map(
    client: bigquery.Client, settings: Settings, tenant_id: str
) -> tuple[ReportSource, ...]:
    """The tenant's latest report map (empty when none was ever written)."""
    rows = _latest(client, settings, REPORT_TABLE, tenant_id) or []
    return tuple(
        ReportSource(
            tenant_id=tenant_id,
            kpi=r["kpi"],
            kind=r["kind"],
            category=r["category"],
            report_id=int(r["report_id"]),
            bu_field=r["bu_field"],
            date_field=r["date_field"] or "",
            id_field=r["id_field"] or "",
            value_field=r["value_field"] or "",
        )
        for r in sorted(rows, key=lambda r: (r["kpi"], r["kind"]))
    )


def kpi_config_for(client: bigquery.Client, settings: Settings, tenant_id: str | None) -> KpiConfig:
    """The KPI configuration with the tenant's mapped business units (none without a
    tenant or a map: every BU then takes its role from its name, KPIS.md), in its time
    zone and weeks (``settings``: the tenant's, ``stkpi.tenants.settings_for``)."""
    bus = read_bu_map(client, settings, tenant_id) if tenant_id else None
    rows = tuple(b.row() for b in bus or () if b.mapped)
    return KpiConfig(
        report_timezone=settings.report_timezone, week_start=settings.weeks_start, bu_map=rows
    )


def _check_bus(bus: Sequence[TenantBu]) -> None:
    seen: set[str] = set()
    for b in bus:
        if not b.bu_name.strip():
            raise ValueError("a business unit needs a name")
        if b.role is not None and b.role not in ROLES:
            raise ValueError(f"{b.bu_name}: role must be one of {', '.join(ROLES)}, not {b.role!r}")
        if b.role is not None and not b.region:
            raise ValueError(f"{b.bu_name}: a mapped business unit needs a region")
        if b.bu_name.lower() in seen:
            raise ValueError(f"{b.bu_name}: listed twice")
        seen.add(b.bu_name.lower())


def _insert(client: bigquery.Client, settings: Settings, table: str, rows: list[dict]) -> None:
    if not rows:
        raise ValueError(f"refusing to write an empty {table}")
    errors = client.insert_rows_json(
        f"{settings.gcp_project}.{settings.deployment_dataset('ops')}.{table}", rows
    )
    if errors:
        raise RuntimeError(f"could not write {table}: {errors[:3]}")


def write_bu_map(
    client: bigquery.Client,
    settings: Settings,
    tenant_id: str,
    bus: Iterable[TenantBu],
    *,
    source: str,
    at: dt.datetime,
) -> dt.datetime:
    """Write ``bus`` as the tenant's whole BU map (a new version, ``at``); returns it."""
    bus = list(bus)
    _check_bus(bus)
    version = at.isoformat()
    _insert(client, settings, BU_TABLE, [
        {"tenant_id": tenant_id, "map_version": version, "source": source, "bu_id": b.bu_id,
         "bu_name": b.bu_name, "normalized_name": b.normalized_name, "role": b.role,
         "region": b.region, "active": b.active}
        for b in bus
    ])  # fmt: skip
    return at


def write_report_map(
    client: bigquery.Client,
    settings: Settings,
    tenant_id: str,
    sources: Iterable[ReportSource],
    *,
    source: str,
    at: dt.datetime,
) -> dt.datetime:
    """Write ``sources`` as the tenant's whole report map (a new version, ``at``)."""
    version = at.isoformat()
    _insert(client, settings, REPORT_TABLE, [
        {"tenant_id": tenant_id, "map_version": version, "source": source, "kpi": s.kpi,
         "kind": s.kind, "category": s.category, "report_id": s.report_id,
         "bu_field": s.bu_field, "date_field": s.date_field or None,
         "id_field": s.id_field or None, "value_field": s.value_field or None}
        for s in sources
    ])  # fmt: skip
    return at
