"""The combined view ``kpi_weekly_all`` (stkpi.combined) on small hand-made marts of four
tenants, with every expected number worked out here by hand.

Tenants (week of 2025-08-18; the Sunday tenant's week is 2025-08-17):
- 1000, the deployment's default tenant: America/Phoenix, weeks from Monday;
- 2000 Acme: America/Phoenix, Monday: combines with 1000;
- 31 Desert: America/New_York, Monday: its PHX region has the same name but another
  clock, so it stays apart;
- 77 Sunrise: America/Phoenix, Sunday: the same zone, another week, so it stays apart.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal as D

import pytest

from stkpi import combined
from stkpi.context import PipelineContext
from stkpi.tenant_contexts import UnknownTenantError
from stkpi.tenants import Tenant, secret_names, settings_for, write_tenant
from stkpi.warehouse import run_file

pytestmark = pytest.mark.integration

MON, SUN = dt.date(2025, 8, 18), dt.date(2025, 8, 17)
PHX, NYC = "America/Phoenix", "America/New_York"
AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

# (bu, region, kpi, kind, value, numerator, denominator): rows of each tenant's kpi_weekly
MARTS = {
    "1000": (MON, [
        ("Phoenix-Sales", "PHX", "total_booked", "money", "1000.00", "1000.00", None),
        ("Phoenix-Sales", "PHX", "success_rate", "ratio", "0.25", "1", "4"),
        ("Phoenix-Production", "PHX", "produced", "money", "500.00", "500.00", None),
        ("Tucson-Sales", "TUC", "leads", "count", "3", "3", None),
        ("unmapped", "unmapped", "produced", "money", "70.00", "70.00", None),
    ]),
    "2000": (MON, [
        ("Mesa-Sales", "PHX", "total_booked", "money", "250.50", "250.50", None),
        ("Mesa-Sales", "PHX", "success_rate", "ratio", "1", "2", "2"),
        ("Chandler-Sales", "PHX", "success_rate", "ratio", "0", "0", "1"),
        ("Chandler-Sales", "PHX", "leads", "count", "2", "2", None),
        ("unmapped", "unmapped", "produced", "money", "30.00", "30.00", None),
    ]),
    "31": (MON, [
        ("Boston-Sales", "PHX", "total_booked", "money", "999.00", "999.00", None),
    ]),
    "77": (SUN, [
        ("Sunrise-Sales", "PHX", "total_booked", "money", "10.00", "10.00", None),
    ]),
}  # fmt: skip
TENANTS = {"2000": ("Acme", PHX, "monday"), "31": ("Desert", NYC, "monday"),
           "77": ("Sunrise", PHX, "sunday")}  # fmt: skip


@pytest.fixture
def deployment(bq_emulator) -> Iterator:
    """A deployment (default tenant 1000) with three added tenants, each with its marts."""
    settings = bq_emulator.settings.model_copy(update={
        "bq_dataset_prefix": f"cv{uuid.uuid4().hex[:6]}", "st_tenant_id": "1000",
        "report_timezone": PHX, "weeks_start": "monday"})  # fmt: skip
    client = bq_emulator.client
    made = [f"{settings.gcp_project}.{settings.dataset(layer)}" for layer in ("ops", "mart")]
    for ds in made:
        client.create_dataset(ds)
    run_file(client, settings, "ops/tenants.sql")
    _marts(client, f"{made[1]}.kpi_weekly", *MARTS["1000"])
    for tid, (name, zone, weeks_start) in TENANTS.items():
        write_tenant(client, settings, _tenant(settings, tid, name, zone, weeks_start), at=AT)
        made.append(_tenant_marts(client, settings, tid))
    yield client, settings
    for ds in made:
        client.delete_dataset(ds, delete_contents=True, not_found_ok=True)


def _tenant(settings, tid: str, name: str, zone: str, weeks_start: str = "monday") -> Tenant:
    return Tenant(tid, name, secret_names(settings.gcp_project, tid), zone, weeks_start)


def _tenant_marts(client, settings, tid: str) -> str:
    mine = settings_for(settings, _tenant(settings, tid, *TENANTS[tid]))
    mart = f"{mine.gcp_project}.{mine.dataset('mart')}"
    client.create_dataset(mart)
    _marts(client, f"{mart}.kpi_weekly", *MARTS[tid])
    return mart


def _marts(client, table: str, week: dt.date, rows: list[tuple]) -> None:
    client.query_and_wait(
        f"CREATE TABLE `{table}` (week_start DATE, bu STRING, region STRING, kpi STRING, "
        "kind STRING, value NUMERIC, numerator NUMERIC, denominator NUMERIC)"
    )

    def num(v: str | None) -> str:
        return "NULL" if v is None else f"NUMERIC '{v}'"

    values = ",\n".join(
        f"(DATE '{week}', '{bu}', '{region}', '{kpi}', '{kind}', {num(v)}, {num(n)}, {num(d)})"
        for bu, region, kpi, kind, v, n, d in rows
    )
    client.query_and_wait(f"INSERT INTO `{table}` VALUES {values}")


def _view(client, settings) -> dict[tuple, dict]:
    rows = client.query_and_wait(f"SELECT * FROM `{combined.view_id(settings)}`")
    out: dict[tuple, dict] = {}
    for r in rows:
        key = (r["scope"], r["tenant_id"], r["time_zone"], r["weeks_start"], r["week_start"],
               r["region"], r["kpi"])  # fmt: skip
        assert key not in out, f"two rows for {key}"
        out[key] = dict(r.items())
    return out


def test_tenants_of_one_zone_and_week_start_combine_and_others_stay_apart(deployment) -> None:
    client, settings = deployment
    got = combined.refresh(client, settings)
    assert got.action == "created"
    assert set(got.included) == {"1000", "2000", "31", "77"} and got.waiting == ()
    view = _view(client, settings)

    def together(zone, weeks_start, week, region, kpi):
        return view[("combined", None, zone, weeks_start, week, region, kpi)]

    # PHX Total Booked, Phoenix Monday weeks: 1000's 1,000.00 + Acme's 250.50 = 1,250.50.
    # Desert's 999.00 (New York) and Sunrise's 10.00 (Sunday weeks) are not in it.
    booked = together(PHX, "monday", MON, "PHX", "total_booked")
    assert (booked["value"], booked["tenants"]) == (D("1250.50"), 2)
    assert together(NYC, "monday", MON, "PHX", "total_booked")["value"] == D("999.00")
    assert together(PHX, "sunday", SUN, "PHX", "total_booked")["value"] == D("10.00")
    # PHX Success Rate: closed / opportunities summed over both tenants' BUs:
    # (1 + 2 + 0) / (4 + 2 + 1) = 3/7; not the average of 0.25, 1 and 0 (0.4167), nor a sum.
    rate = together(PHX, "monday", MON, "PHX", "success_rate")
    assert (rate["numerator"], rate["denominator"]) == (D(3), D(7))
    # (the emulator keeps 3 decimals of this quotient, BigQuery 9: 0.429 either way apart
    # from the average's 0.417)
    assert abs(rate["value"] - D(3) / D(7)) < D("5e-4")
    # A region only one tenant has is still the group's total: PHX produced is 1000's 500.00,
    # TUC leads 1000's 3, PHX leads Acme's 2.
    assert together(PHX, "monday", MON, "PHX", "produced")["value"] == D("500.00")
    assert together(PHX, "monday", MON, "TUC", "leads")["value"] == D("3")
    assert together(PHX, "monday", MON, "PHX", "leads")["tenants"] == 1
    # The buckets are each tenant's own mapping gaps: never summed across tenants.
    assert not [k for k in view if k[0] == "combined" and k[5] in ("unmapped", "unlinked")]
    assert view[("tenant", "1000", PHX, "monday", MON, "unmapped", "produced")]["value"] == D(
        "70.00"
    )


def test_each_tenant_keeps_its_own_rows(deployment) -> None:
    client, settings = deployment
    combined.refresh(client, settings)
    view = _view(client, settings)
    acme = {k[5:]: r for k, r in view.items() if k[:2] == ("tenant", "2000")}
    assert {r["display_name"] for r in acme.values()} == {"Acme"}
    # Acme's PHX success rate over its two BUs: (2 + 0) / (2 + 1) = 2/3.
    rate = acme[("PHX", "success_rate")]
    assert (rate["numerator"], rate["denominator"]) == (D(2), D(3))
    assert acme[("PHX", "total_booked")]["value"] == D("250.50")
    assert acme[("unmapped", "produced")]["value"] == D("30.00")
    assert (
        view[("tenant", "1000", PHX, "monday", MON, "PHX", "total_booked")]["display_name"]
        == combined.DEFAULT_NAME
    )


def test_refresh_only_when_the_tenants_changed(deployment) -> None:
    client, settings = deployment
    assert combined.refresh(client, settings).action == "created"
    assert combined.refresh(client, settings).action == "unchanged"  # nothing changed
    # A tenant added before its first backfill has no marts: it waits, the view stays.
    write_tenant(client, settings, _tenant(settings, "55", "Later", PHX), at=AT)
    got = combined.refresh(client, settings)
    assert (got.action, got.waiting) == ("unchanged", ("55",))
    # Once its marts exist, the next refresh (a rebuild's) brings it in.
    TENANTS["55"] = ("Later", PHX, "monday")
    MARTS["55"] = (MON, [("Mesa-Sales", "PHX", "total_booked", "money", "5.00", "5.00", None)])
    try:
        mart = _tenant_marts(client, settings, "55")
        got = combined.refresh(client, settings)
        assert got.action == "replaced" and "55" in got.included and got.waiting == ()
        # 1,000.00 + 250.50 + 5.00
        booked = _view(client, settings)[("combined", None, PHX, "monday", MON, "PHX",
                                          "total_booked")]  # fmt: skip
        assert (booked["value"], booked["tenants"]) == (D("1255.50"), 3)
    finally:
        del TENANTS["55"], MARTS["55"]
    client.delete_dataset(mart, delete_contents=True, not_found_ok=True)


def test_the_dashboard_shows_a_tenants_group_summed(deployment) -> None:
    """`stkpi report --tenant 2000 --combined`: Acme's page, its region tables summed over
    the tenants of its zone and week start (1000 and 2000; not Desert's New York PHX)."""
    from stkpi.report import build_report
    from stkpi.report.data import gather

    client, settings = deployment
    combined.refresh(client, settings)
    acme = PipelineContext(settings).for_tenant("2000").settings  # `--tenant 2000`
    now = dt.datetime(2025, 8, 27, 12, tzinfo=dt.UTC)  # a Wednesday: week 08-18 is complete
    data = gather(client, acme, now=now, tenant="2000", combined_from=settings)
    regions = {(r["region"], r["kpi"]): r for r in data.kpi_region.rows}
    assert regions[("PHX", "total_booked")]["value"] == D("1250.50")  # 1,000.00 + 250.50
    assert sorted(regions[("PHX", "total_booked")]["tenant_ids"].split(",")) == ["1000", "2000"]
    assert ("unmapped", "produced") not in regions
    html = build_report(client, acme, now=now, tenant="2000", combined_from=settings)
    assert "regions: all tenants in America/Phoenix, weeks from Monday" in html
    assert "sum over tenants 1000, 2000" in html


def test_tenant_option_names_a_tenant_or_says_where_they_are_listed(deployment) -> None:
    """`--tenant` (stkpi_tools.cli.env.pipeline_context): the default tenant's id is the
    deployment's context, an added tenant's id its own, any other id a clear error."""
    _, settings = deployment
    ctx = PipelineContext(settings)
    assert ctx.for_tenant("1000") is ctx  # the default tenant's id
    desert = ctx.for_tenant("31").settings
    assert (desert.dataset("mart"), desert.report_timezone) == (
        f"{settings.bq_dataset_prefix}_t31_mart", NYC,
    )  # fmt: skip
    with pytest.raises(UnknownTenantError, match=r"`stkpi tenant list` lists them\): add it"):
        ctx.for_tenant("999")
