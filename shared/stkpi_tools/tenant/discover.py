"""Read the tenant's business units and reports from ServiceTitan and propose its maps,
keeping whatever the operator already mapped."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from stkpi.reconcile.mapping import ReportSource
from stkpi.reconcile.reports_api import ReportingApi
from stkpi.registry import get_entity
from stkpi.servicetitan import ServiceTitanClient
from stkpi.tenant_maps import TenantBu, propose
from stkpi_tools.tenant.recognize import Report


def business_units(client: ServiceTitanClient) -> list[TenantBu]:
    """Every business unit of the tenant, active or not (``active=Any``), as proposed."""
    found: dict[int, TenantBu] = {}
    for page in client.iter_pages(get_entity("business_units"), None, None):
        for rec in page.records:
            bu_id = int(rec["id"])
            found[bu_id] = propose(str(rec.get("name") or ""), bu_id, rec.get("active"))
    return sorted((b for b in found.values() if b.bu_name), key=lambda b: b.bu_name.lower())


def reports(client: ServiceTitanClient, tenant_id: str) -> list[Report]:
    """Every report of every category, with its fields."""
    api = ReportingApi(client, tenant_id)
    out: list[Report] = []
    for category in api.categories():
        for report in api.reports(category["id"]):
            desc = api.describe(category["id"], report["id"])
            out.append(
                Report(
                    str(category["id"]),
                    int(report["id"]),
                    str(report.get("name") or ""),
                    tuple(desc.get("fields") or ()),
                )
            )
    return out


def merge_bus(existing: Sequence[TenantBu] | None, found: Iterable[TenantBu]) -> list[TenantBu]:
    """The found business units, each keeping the operator's mapping when it had one (by id,
    else by name); units only the old map knows stay (renamed or deleted in ServiceTitan:
    their history still reports under them)."""
    old = list(existing or ())
    by_id = {b.bu_id: b for b in old if b.bu_id is not None}
    by_name = {b.bu_name.lower(): b for b in old}
    out: list[TenantBu] = []
    used: set[int] = set()
    for b in found:
        prev = by_id.get(b.bu_id) or by_name.get(b.bu_name.lower())
        if prev is not None and prev.mapped:
            used.add(id(prev))
            out.append(
                TenantBu(b.bu_name, b.bu_id, prev.normalized_name, prev.role, prev.region, b.active)
            )
        else:
            if prev is not None:
                used.add(id(prev))
            out.append(b)
    names = {b.bu_name.lower() for b in out}
    out += [b for b in old if id(b) not in used and b.bu_name.lower() not in names]
    return sorted(out, key=lambda b: b.bu_name.lower())


def merge_reports(
    existing: Sequence[ReportSource], proposed: Iterable[ReportSource]
) -> list[ReportSource]:
    """The proposed rows, except where the operator's map already has that KPI and kind."""
    have = {(s.kpi, s.kind): s for s in existing}
    for s in proposed:
        have.setdefault((s.kpi, s.kind), s)
    return [have[k] for k in sorted(have)]
