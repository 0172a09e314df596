"""``stkpi tenant init`` as a function: discover the tenant's maps and write them (the CLI,
the demo on your own tenant and the deploy sequence share it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from stkpi.context import PipelineContext
from stkpi.reconcile.mapping import RECONCILED_KPIS, ReportSource
from stkpi.tenant_maps import (
    TenantBu,
    read_bu_map,
    read_report_map,
    write_bu_map,
    write_report_map,
)
from stkpi_tools.tenant import discover
from stkpi_tools.tenant.recognize import propose_report_map


@dataclass(frozen=True)
class TenantInit:
    tenant_id: str
    bus: list[TenantBu]
    sources: list[ReportSource]
    written: bool
    unmapped: list[str] = field(default_factory=list)
    kpis_without_reports: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.unmapped and not self.kpis_without_reports


def init_tenant(pctx: PipelineContext, *, write: bool = True) -> TenantInit:
    """Read the tenant's business units and reports (its credentials: ``pctx.st_settings``)
    and write its maps, keeping what the operator mapped before."""
    tenant = str(pctx.st_settings.st_tenant_id)
    client, settings = pctx.bigquery, pctx.settings
    bus = discover.merge_bus(read_bu_map(client, settings, tenant),
                             discover.business_units(pctx.servicetitan))  # fmt: skip
    proposed, _ = propose_report_map(tenant, discover.reports(pctx.servicetitan, tenant))
    sources = discover.merge_reports(read_report_map(client, settings, tenant), proposed)
    if write:
        at = dt.datetime.now(dt.UTC)
        if bus:
            write_bu_map(client, settings, tenant, bus, source="discovered", at=at)
        if sources:
            write_report_map(client, settings, tenant, sources, source="discovered", at=at)
    kpis = {s.kpi for s in sources}
    return TenantInit(
        tenant, bus, sources, write,
        unmapped=[b.bu_name for b in bus if not b.mapped and b.active is not False],
        kpis_without_reports=[k for k in RECONCILED_KPIS if k not in kpis],
    )  # fmt: skip
