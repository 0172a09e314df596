"""The simulated tenant: deterministic, sized by ``scale``, and full of production's traps."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from stkpi.registry import ENTITIES, get_entity, record_key
from stkpi_tools.chaos.compare import to_micros
from stkpi_tools.sim import catalog
from stkpi_tools.sim.clock import iso, parse_time
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.entities import VOLUMES
from stkpi_tools.sim.packed_versions import unpack
from stkpi_tools.sim.tenant import Filters, Tenant


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    return Tenant(SimConfig(scale=0.01))


def test_same_seed_gives_the_same_tenant() -> None:
    a, b = Tenant(SimConfig(seed=7)), Tenant(SimConfig(seed=7))
    for entity in ENTITIES:
        assert a.snapshot(entity.name) == b.snapshot(entity.name)


def test_other_seed_gives_another_tenant() -> None:
    assert Tenant(SimConfig(seed=1)).snapshot("jobs") != Tenant(SimConfig(seed=2)).snapshot("jobs")


@pytest.mark.parametrize("name", ["jobs", "invoices", "estimates", "payments", "customers"])
def test_volumes_follow_scale(tenant: Tenant, name: str) -> None:
    expected = VOLUMES[name] * 0.01
    assert abs(tenant.counts()[name] - expected) / expected < 0.1


def test_every_registry_entity_is_served_with_its_fields(tenant: Tenant) -> None:
    for entity in ENTITIES:
        records = tenant.snapshot(entity.name)
        assert records, entity.name
        for col in entity.columns:
            if col.sources:
                top = {s.split(".")[0] for s in col.sources}
                assert any(any(t in r for t in top) for r in records), (entity.name, col.name)
        assert all("modifiedOn" in r for r in records)
        keys = [record_key(entity, r) for r in records]
        assert len(keys) == len(set(keys)), f"{entity.name} keys are not unique"


def test_times_are_iso_utc_and_accounting_money_is_a_two_decimal_string(tenant: Tenant) -> None:
    # ServiceTitan's accounting module sends money as decimal strings ("1234.50"), the
    # others as JSON numbers (the specs, docs/SERVICETITAN_SPECS.md).
    for inv in tenant.snapshot("invoices"):
        assert inv["createdOn"].endswith("Z")
        for field in ("subTotal", "salesTax", "total", "balance"):
            assert isinstance(inv[field], str), field
            assert re.fullmatch(r"-?\d+\.\d\d", inv[field]), inv[field]
    for est in tenant.snapshot("estimates"):
        assert isinstance(est["subtotal"], float) and round(est["subtotal"], 2) == est["subtotal"]


def test_inactive_records_exist_and_are_hidden_by_default(tenant: Tenant) -> None:
    for name in ("business_units", "technicians", "job_types", "customers", "locations"):
        everything = tenant.query(name, Filters(active=None))
        active = tenant.query(name, Filters(active=True))
        assert active.size < everything.size, name


def test_business_units_and_job_types_have_the_production_names(tenant: Tenant) -> None:
    bus = {r["name"] for r in tenant.snapshot("business_units")}
    assert {"Phoenix-Sales", "Andy's Painting-Production", "Nevada-Production"} <= bus
    types = {r["name"] for r in tenant.snapshot("job_types")}
    assert {"ESTIMATE-RES-INT", "Estimate- Cabinets", "COMM-ESTIMATE", "WARRANTY"} <= types
    assert len(catalog.BUSINESS_UNITS) == len(bus)


def test_some_customers_are_test_customers(tenant: Tenant) -> None:
    names = [c["name"] for c in tenant.snapshot("customers")]
    assert any(n.lower().startswith("test") for n in names)


def test_about_one_percent_of_invoices_lack_a_usable_job_id(tenant: Tenant) -> None:
    invoices = tenant.snapshot("invoices")
    job_ids = {j["id"] for j in tenant.snapshot("jobs")}
    shapes = Counter(
        "null" if i["job"] is None
        else "id-only" if i["job"]["number"] is None
        else "unknown-id" if i["job"]["id"] not in job_ids else "nested"
        for i in invoices
    )  # fmt: skip
    # a lost link (job null), or a link whose id is no job's but whose number is
    missing = shapes["null"] + shapes["unknown-id"]
    assert 0.003 < missing / len(invoices) < 0.03
    assert shapes["unknown-id"] > 0 and shapes["id-only"] > 0
    assert all("jobId" not in i and "jobNumber" not in i for i in invoices)  # not in the spec
    assert any(Decimal(i["total"]) < 0 for i in invoices), "credit memos"
    assert any(Decimal(i["total"]) == 0 for i in invoices), "$0 invoices"


def test_payroll_source_entity_ids_repeat(tenant: Tenant) -> None:
    items = tenant.snapshot("gross_pay_items")
    counts = Counter(i["sourceEntityId"] for i in items)
    assert max(counts.values()) > 1
    # Most items carry their id; the spec makes it nullable, and some come without one.
    assert any(i["id"] is None for i in items) and any(i["id"] is not None for i in items)
    assert all("sourceEntityType" not in i for i in items)


def test_estimates_are_sold_weeks_after_creation(tenant: Tenant) -> None:
    sold = [e for e in tenant.snapshot("estimates") if e["status"]["name"] == "Sold"]
    late = [e for e in sold if parse_time(e["soldOn"]) - parse_time(e["createdOn"]) > 14 * 86400]
    assert late
    assert all(e["modifiedOn"] >= e["soldOn"] for e in sold)


def test_payments_apply_exactly_to_invoices(tenant: Tenant) -> None:
    payments = tenant.snapshot("payments")
    assert any(len(p["appliedTo"]) == 2 for p in payments), "a payment split over 2 invoices"
    for p in payments:
        assert sum(Decimal(a["appliedAmount"]) for a in p["appliedTo"]) == Decimal(p["total"])


def test_appointments_include_canceled_and_second_visits(tenant: Tenant) -> None:
    appts = tenant.snapshot("appointments")
    assert any(a["status"] == "Canceled" for a in appts)
    assert max(Counter(a["jobId"] for a in appts).values()) >= 2


def test_purchasing_traps(tenant: Tenant) -> None:
    assert any(p["status"] == "Canceled" for p in tenant.snapshot("purchase_orders"))
    bills = tenant.snapshot("inventory_bills")
    assert any(b["jobId"] is None and b["purchaseOrderId"] for b in bills)


def test_advancing_the_clock_shows_new_records_and_edits() -> None:
    t = Tenant(SimConfig(scale=0.005))
    before = {e["id"]: e for e in t.snapshot("estimates")}
    t.advance(24 * 30)
    after = {e["id"]: e for e in t.snapshot("estimates")}
    assert set(after) > set(before)
    changed = [i for i in before if after[i]["modifiedOn"] != before[i]["modifiedOn"]]
    assert changed
    assert any(after[i]["status"]["name"] != before[i]["status"]["name"] for i in changed)


def test_records_born_after_now_are_invisible() -> None:
    t = Tenant(SimConfig(now=datetime(2024, 1, 1, tzinfo=UTC)))
    limit = "2024-01-01T00:00:00Z"
    assert all(j["createdOn"] <= limit and j["modifiedOn"] <= limit for j in t.snapshot("jobs"))


def test_edit_moves_modified_on_to_now() -> None:
    t = Tenant(SimConfig())
    edited = t.edit("jobs", 3)
    jobs = t.render("jobs", edited)
    assert all(j["modifiedOn"] == t.now_iso() for j in jobs)
    assert get_entity("jobs").name == "jobs"


def test_versions_are_what_the_served_records_say_after_edits_and_deletes() -> None:
    """``iter_version_micros`` reads id-keyed entities off the arrays instead of rendering
    them: it must still say exactly what every served record says, key for key."""
    t = Tenant(SimConfig(scale=0.005))
    t.edit("jobs", 30)
    t.delete("estimates", fraction=0.02)
    t.advance(30)  # new records, new versions of old ones
    for entity in ENTITIES:
        served = {record_key(entity, r): r.get("modifiedOn") for r in t.snapshot(entity.name)}
        versions = {
            k: None if m is None else iso(m // 1_000_000)  # the API's text of the instant
            for k, m in t.iter_version_micros(entity.name)
        }
        assert served, entity.name
        assert versions == served, entity.name
        # the packed form the chaos comparison reads says the same, to the microsecond
        count, packed = t.packed_versions(entity.name)
        micros = {k: None if v is None else to_micros(v) for k, v in served.items()}
        assert count == len(served) and dict(unpack(packed)) == micros, entity.name


def test_iso_is_the_utc_text_of_the_instant() -> None:
    # 0 = the epoch; 1_700_000_000 = 2023-11-14T22:13:20Z; 4_102_444_800 = 2100-01-01 (past
    # 2038, so no 32-bit limit); 951_782_400 = 2000-02-29, a leap day.
    cases = {0: "1970-01-01T00:00:00Z", 1_700_000_000: "2023-11-14T22:13:20Z",
             4_102_444_800: "2100-01-01T00:00:00Z", 951_782_400: "2000-02-29T00:00:00Z"}  # fmt: skip
    assert {s: iso(s) for s in cases} == cases


def test_an_export_resumed_from_its_token_sees_every_later_edit() -> None:
    """The feed is in change order: a record edited after a read comes after the token
    that read ended on, even at the same timestamp (the simulated clock stands still)."""
    t = Tenant(SimConfig(scale=0.002))
    t.edit("jobs", 20)  # the feed now ends at the clock's time, on the highest edited id
    token = None
    while True:
        _, more, token = t.export_page("jobs", token, 100)
        if not more:
            break
    edited = {int(t.tables["jobs"].ids[i]) for i in t.edit("jobs", 5)}
    after, more, _ = t.export_page("jobs", token, 100)
    assert not more and edited <= {r["id"] for r in after}
    assert len(after) <= 6  # the boundary record again, and the five edits
