"""The simulated tenant's maps: the demo's data (``sql/seeds/bu_map.csv`` and
``report_map.csv``, written by hand for the simulator's business units and reports).

A local stack that serves the simulator writes them as the tenant's maps when it starts,
as an operator would with ``stkpi tenant import`` (or ``stkpi tenant init``, which finds the
same reports): they are data for the demo and the tests, never part of a function's
archive (terraform/main.tf leaves ``sql/seeds/*.csv`` out of the zips).
"""

from __future__ import annotations

import datetime as dt

from google.cloud import bigquery

from stkpi.config import Settings
from stkpi.kpi_config import default_bu_map_path, load_bu_map
from stkpi.reconcile.mapping import default_report_map_path, load_report_map
from stkpi.tenant_maps import TenantBu, write_bu_map, write_report_map


def write_simulated_maps(
    client: bigquery.Client, settings: Settings, tenant_id: str, at: dt.datetime | None = None
) -> None:
    """Write the simulator's BU map, and its report map rows for ``tenant_id`` if any."""
    at = at or dt.datetime.now(dt.UTC)
    bus = [
        TenantBu(r.bu_name, None, r.normalized_name, r.role, r.region)
        for r in load_bu_map(default_bu_map_path())
    ]
    write_bu_map(client, settings, tenant_id, bus, source="imported", at=at)
    reports = [r for r in load_report_map(default_report_map_path()) if r.tenant_id == tenant_id]
    if reports:
        write_report_map(client, settings, tenant_id, reports, source="imported", at=at)
