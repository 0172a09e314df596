"""``kpi.bu_map``: every business unit of the tenant has a place in the KPIs.

A business unit reports under the tenant's BU map (``stkpi tenant``), or, unlisted, under
the role and region its name gives (KPIS.md: ``<region>-Sales`` / ``<region>-Production``).
One with neither lands in the bucket ``unmapped``: YELLOW, naming each such unit with the
command that maps it. A tenant with no BU map at all is YELLOW too (its regions are then
whatever the names say): ``stkpi tenant init`` writes one from the tenant's own units.

Pure: the rows are the tenant's latest map (``stkpi.tenant_maps``) and its business units
as copied from ServiceTitan (``sql/validations/business_units_current.sql``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stkpi.tenant_maps import TenantBu, map_bu_command, propose
from stkpi.validation.result import GREEN, YELLOW, CheckResult

NAME = "kpi.bu_map"


def judge_bu_map(
    tenant_id: str | None,
    bu_map: Sequence[TenantBu] | None,
    business_units: Sequence[Mapping[str, Any]],
) -> CheckResult:
    if not tenant_id:
        return CheckResult(NAME, YELLOW, "the tenant is unknown (ST_TENANT_ID, or its secret "
                           "has no version yet): business units are mapped by their names",
                           {}, {}, "add the ServiceTitan secrets (docs/DEPLOY.md)")  # fmt: skip
    if bu_map is None:
        return CheckResult(
            NAME, YELLOW,
            f"tenant {tenant_id} has no BU map: every business unit takes its role and region "
            "from its name",
            {"business_units": len(business_units)}, {},
            "stkpi tenant init (writes the map from the tenant's own business units)",
        )  # fmt: skip
    by_id = {b.bu_id: b for b in bu_map if b.bu_id is not None}
    by_name = {b.bu_name.lower(): b for b in bu_map}
    unmapped: list[str] = []
    for row in business_units:
        name = str(row.get("bu_name") or "")
        listed = by_id.get(row.get("bu_id")) or by_name.get(name.lower())
        if listed is not None and listed.mapped:
            continue
        if listed is None and propose(name).mapped:
            continue  # unlisted, but its name gives its role (KPIS.md)
        if row.get("active") is False and listed is None:
            continue  # retired and never mapped: reports nothing new
        unmapped.append(name)
    unmapped += [
        b.bu_name for b in bu_map
        if not b.mapped and b.active is not False and b.bu_name not in unmapped
        and not any(str(r.get("bu_name") or "").lower() == b.bu_name.lower() for r in business_units)
    ]  # fmt: skip
    numbers = {"business_units": len(business_units), "in_map": len(bu_map),
               "unmapped": unmapped[:50]}  # fmt: skip
    if unmapped:
        return CheckResult(
            NAME, YELLOW,
            f"{len(unmapped)} business unit(s) without a mapping report under 'unmapped': "
            + ", ".join(unmapped[:5]),
            numbers, {}, "; ".join(map_bu_command(n) for n in unmapped[:5]),
            value=float(len(unmapped)),
        )  # fmt: skip
    return CheckResult(NAME, GREEN, f"all {len(business_units)} business units are mapped",
                       numbers, {}, "stkpi tenant show")  # fmt: skip
