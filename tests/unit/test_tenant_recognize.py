"""``stkpi tenant init`` proposes a tenant's report map from its reports' fields, and maps
its business units by KPIS.md's name rule, keeping what the operator mapped by hand."""

from __future__ import annotations

from stkpi.reconcile.mapping import load_report_map
from stkpi.tenant_maps import TenantBu, propose
from stkpi_tools.sim.reporting import report_id
from stkpi_tools.sim.reports import REPORTS
from stkpi_tools.tenant.discover import merge_bus, merge_reports
from stkpi_tools.tenant.recognize import Report, propose_report_map


def _catalog(tenant: str) -> list[Report]:
    """The simulated tenant's reports as the Reporting API describes them."""
    return [
        Report(r.category, report_id(tenant, r.key), r.name, tuple(f.as_json() for f in r.fields))
        for r in REPORTS
    ]


def test_the_simulated_tenants_reports_are_recognised_as_its_hand_made_map_says() -> None:
    # sql/seeds/report_map.csv was written by hand for tenant 1000 from its reports; the
    # proposal from the fields alone must name the same reports and fields
    proposed, missing = propose_report_map("1000", _catalog("1000"))
    assert missing == []
    by_hand = {(s.kpi, s.kind): s for s in load_report_map() if s.tenant_id == "1000"}
    assert {(s.kpi, s.kind): s for s in proposed} == by_hand


def test_another_tenant_gets_its_own_report_ids() -> None:
    proposed, _ = propose_report_map("2000", _catalog("2000"))
    ids = {s.report_id for s in proposed}
    assert ids and ids.isdisjoint({s.report_id for s in load_report_map()})
    assert all(s.tenant_id == "2000" for s in proposed)


def test_a_kpi_without_both_reports_is_left_out_and_named() -> None:
    catalog = [r for r in _catalog("1000") if r.name != "Payments"]
    proposed, missing = propose_report_map("1000", catalog)
    assert missing == ["collected"]
    assert "collected" not in {s.kpi for s in proposed}


def test_business_units_are_mapped_by_their_name_suffix_or_left_for_the_operator() -> None:
    assert propose("Mesa-Sales", 7) == TenantBu("Mesa-Sales", 7, "Mesa-Sales", "Sales", "Mesa")
    prod = propose("Cabinet Shop-Production")
    assert (prod.role, prod.region) == ("Production", "Cabinet Shop")
    crew = propose("Commercial Crew", 9, True)  # neither suffix: the operator maps it
    assert not crew.mapped and crew.role is None


def test_rediscovery_keeps_the_operators_mappings_and_adds_new_units() -> None:
    old = [
        TenantBu("Commercial Crew", 9, "Commercial", "Production", "PHX", True),
        TenantBu("Mesa-Sales", 7, "Mesa-Sales", "Sales", "MES", True),  # region by hand
        TenantBu("Retired-Sales", 3, "Retired-Sales", "Sales", "OLD", False),
    ]
    found = [
        propose("Commercial Crew (renamed)", 9, True),  # same id, new name
        propose("Mesa-Sales", 7, True),
        propose("Yuma-Production", 11, True),
    ]
    merged = {b.bu_name: b for b in merge_bus(old, found)}
    assert merged["Commercial Crew (renamed)"].role == "Production"  # kept by id
    assert merged["Mesa-Sales"].region == "MES"  # the operator's region, not the name's
    assert merged["Yuma-Production"].region == "Yuma"  # new: from its name
    assert merged["Retired-Sales"].role == "Sales"  # gone from ServiceTitan: kept
    assert len(merged) == 4


def test_rediscovery_keeps_report_rows_the_operator_set() -> None:
    proposed, _ = propose_report_map("1000", _catalog("1000"))
    mine = [s for s in proposed if (s.kpi, s.kind) != ("leads", "total")]
    by_hand = next(s for s in proposed if (s.kpi, s.kind) == ("leads", "total"))
    by_hand = type(by_hand)(**{**by_hand.__dict__, "report_id": 1})
    merged = merge_reports([by_hand], mine)
    assert by_hand in merged and len(merged) == len(proposed)
