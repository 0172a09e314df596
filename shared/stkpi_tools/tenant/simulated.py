"""The simulated tenant's maps: the demo's data (``sql/seeds/bu_map.csv`` and
``report_map.csv``, written by hand for the simulator's business units and reports).

A local stack that serves the simulator writes them as the tenant's maps when it starts,
as an operator would with ``stkpi tenant import`` (or ``stkpi tenant init``, which finds the
same reports): they are data for the demo and the tests, never part of a function's
archive (terraform/main.tf leaves ``sql/seeds/*.csv`` out of the zips).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from google.cloud import bigquery

from stkpi.config import Settings
from stkpi.kpi_config import default_bu_map_path, load_bu_map
from stkpi.reconcile.mapping import ReportSource, default_report_map_path, load_report_map
from stkpi.tenant_maps import TenantBu, write_bu_map, write_report_map
from stkpi_tools.sim.config import SIM_TENANT_ID
from stkpi_tools.sim.reporting import report_id
from stkpi_tools.sim.reports import REPORTS


def write_simulated_maps(
    client: bigquery.Client,
    settings: Settings,
    tenant_id: str,
    at: dt.datetime | None = None,
    *,
    added: bool = False,
) -> None:
    """Write the simulator's BU map, and its report map rows for ``tenant_id`` if any.

    ``added``: a tenant the simulator serves besides its primary, with the catalog's
    business units (``TenantSpec`` without ``bu_names``): its report map is the demo's under
    its own report ids (``added_report_map``)."""
    at = at or dt.datetime.now(dt.UTC)
    bus = [
        TenantBu(r.bu_name, None, r.normalized_name, r.role, r.region)
        for r in load_bu_map(default_bu_map_path())
    ]
    write_bu_map(client, settings, tenant_id, bus, source="imported", at=at)
    if added:
        reports = added_report_map(tenant_id)
    else:
        reports = [
            r for r in load_report_map(default_report_map_path()) if r.tenant_id == tenant_id
        ]
    if reports:
        write_report_map(client, settings, tenant_id, reports, source="imported", at=at)


def added_report_map(tenant_id: str) -> list[ReportSource]:
    """The demo's report map (written for the simulator's primary tenant) for another tenant
    the simulator serves: the same reports and fields under that tenant's report ids (they
    differ per tenant, as on ServiceTitan: ``stkpi_tools.sim.reporting.report_id``)."""
    key_of = {report_id(SIM_TENANT_ID, r.key): r.key for r in REPORTS}
    return [
        dataclasses.replace(
            row, tenant_id=tenant_id, report_id=report_id(tenant_id, key_of[row.report_id])
        )
        for row in load_report_map(default_report_map_path())
        if row.tenant_id == SIM_TENANT_ID
    ]
