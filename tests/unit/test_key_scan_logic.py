"""Key scan logic without services: the plan of a scan, the guard, the simulator's hard
deletes and hide fault, the deletes validation verdict, the copy comparison."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from stkpi.errors import BadMessageError, PermanentError
from stkpi.key_scan import ScanCounts, ScanDecision, decide
from stkpi.messages import PlanMessage, WindowMessage, decode
from stkpi.planner import KEY_SCAN_START, plan_run
from stkpi.registry import DELETABLE, ENTITIES, get_entity
from stkpi.splits import split
from stkpi.validation.judges.deletes import judge_deletes
from stkpi_tools.chaos.compare import compare_entity
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.faults import FaultState
from stkpi_tools.sim.tenant import Filters, Tenant

NOW = datetime(2025, 10, 1, 12, 34, tzinfo=UTC)


# -- plan ----------------------------------------------------------------------------------


def test_a_scan_plans_every_deletable_entity_by_created_on_and_moves_no_mark() -> None:
    plan = plan_run(PlanMessage(run_type="deletes"), now=NOW, default_window_days=3660)
    assert plan.entities == sorted(DELETABLE)
    assert plan.run_id == "deletes-20251001T120000Z"  # floored: a redelivery plans the same
    assert all(w.scan for w in plan.windows)
    estimates = [w for w in plan.windows if w.entity == "estimates"]
    # 2000-01-01 .. 2025-10-01T12:00 in windows of at most 3,660 days: 3 windows.
    assert estimates[0].start == KEY_SCAN_START and len(estimates) == 3
    assert estimates[-1].end == datetime(2025, 10, 1, 12, tzinfo=UTC)
    assert [w.window_id for w in plan.windows if w.entity == "technicians"] == [
        "full_20251001T120000Z"
    ]
    assert plan.entity_ends == {}  # the rebuild advances no high-water mark


def test_no_plan_message_can_raise_the_delete_guard() -> None:
    # The guard used to be raised by a field any publisher of st-plan could set.
    for run_type in ("deletes", "daily"):
        with pytest.raises(BadMessageError, match="max_delete_share is not a message field"):
            decode(PlanMessage, {"run_type": run_type, "max_delete_share": 1.0})


def test_a_scan_of_an_entity_servicetitan_never_deletes_is_refused_by_name() -> None:
    with pytest.raises(BadMessageError, match=r"a key scan covers only .*; not jobs, invoices"):
        decode(PlanMessage, {"run_type": "deletes", "entities": ["jobs", "invoices"]})


def test_key_scan_windows_by_created_on_and_their_split_children_stay_scans() -> None:
    scan = get_entity("estimates").for_key_scan()
    assert scan.window_params == ("createdOnOrAfter", "createdBefore")
    assert get_entity("business_units").for_key_scan() == get_entity("business_units")
    items = get_entity("gross_pay_items")
    undated = replace(items, columns=tuple(c for c in items.columns if c.name != "created_on"))
    with pytest.raises(PermanentError, match="gross_pay_items has no createdOn filter"):
        undated.for_key_scan()
    for name in DELETABLE:  # every entity ServiceTitan deletes can be scanned
        get_entity(name).for_key_scan()
    parent = WindowMessage(
        run_id="r",
        entity="estimates",
        window_id="w",
        start=datetime(2020, 1, 1, tzinfo=UTC),
        end=datetime(2021, 1, 1, tzinfo=UTC),
        scan=True,
    )
    children = split(parent, count=1_000, target=100)
    assert children and all(c.scan for c in children)


def test_deletable_entities_are_the_ones_servicetitan_hard_deletes() -> None:
    # SERVICETITAN.md "Deletes": invoice items are nested in invoices, not an entity.
    assert set(DELETABLE) == {
        "estimates", "appointments", "payments", "customers", "locations",
        "business_units", "technicians",
    }  # fmt: skip
    assert {e.name for e in ENTITIES if e.deletes} == set(DELETABLE)


# -- guard ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("live", "to_mark", "max_share", "guarded"),
    [
        (1_000, 20, 0.02, False),  # 20 / 1,000 = 2.0%: at the guard, not above it
        (1_000, 21, 0.02, True),  # 2.1% > 2%
        (240, 120, 0.02, True),  # half the entity vanished: a revoked scope, not deletes
        (240, 120, 0.6, False),  # ... unless the operator allowed it
        (0, 0, 0.02, False),  # an empty table: nothing to mark, nothing to guard
    ],
)
def test_guard_refuses_a_scan_that_would_mark_more_than_its_share(
    live: int, to_mark: int, max_share: float, guarded: bool
) -> None:
    counts = ScanCounts(keys_seen=live - to_mark, in_scope=live, live=live, to_mark=to_mark,
                        to_unmark=0)  # fmt: skip
    decision = decide("estimates", counts, max_share)
    assert decision.guarded is guarded
    assert ScanDecision.from_doc(decision.to_doc()) == decision  # stored, then re-applied
    if guarded:
        assert "nothing was marked" in decision.reason
        assert f"{to_mark} of {live} rows" in decision.reason
        assert "stkpi deletes --entities estimates --allow-share" in decision.reason


def test_the_guard_adds_up_the_scans_of_its_period() -> None:
    # 1.5% of 1,000 marked last week, 1.5% more now: 30 of 1,000 over the period, above
    # 2% together though each scan alone is under it.
    first = ScanCounts(keys_seen=985, in_scope=1000, live=1000, to_mark=15, to_unmark=0)
    assert not decide("payments", first, 0.02).guarded
    second = ScanCounts(keys_seen=970, in_scope=1000, live=985, to_mark=15, to_unmark=0,
                        recently_marked=15)  # fmt: skip
    decision = decide("payments", second, 0.02, days=30)
    assert second.share == 30 / 1000
    assert decision.guarded
    assert "with the 15 marked in the last 30 days" in decision.reason
    assert "3.0% of the entity over 30 days, above the 2% guard" in decision.reason
    allowed = decide("payments", second, 0.05, days=30, allowed=True)
    assert not allowed.guarded
    # Decisions stored before the period was counted read as none marked earlier.
    old = {k: v for k, v in first.__dict__.items() if k != "recently_marked"}
    doc = {**old, "max_share": 0.02, "guarded": False, "reason": "r"}
    assert ScanDecision.from_doc(doc).counts == first


# -- simulator -----------------------------------------------------------------------------


@pytest.fixture
def tenant() -> Tenant:
    return Tenant(SimConfig(scale=0.002, seed=3))


def test_a_deleted_record_vanishes_from_lists_even_with_active_any_and_from_exports(
    tenant: Tenant,
) -> None:
    ids = [c["id"] for c in tenant.snapshot("customers")[:3]]
    inactive = next(c["id"] for c in tenant.snapshot("customers") if not c["active"])
    before = tenant.counts()["customers"]
    assert tenant.delete("customers", ids=[*ids, inactive]) == sorted([*ids, inactive])
    table = tenant.tables["customers"]
    served = set(table.ids[tenant.query("customers", Filters(active=None))].tolist())
    assert not served & {*ids, inactive}
    assert tenant.counts()["customers"] == before - 4
    exported, token = [], None
    while True:
        data, more, token = tenant.export_page("customers", token, 50)
        exported += [r["id"] for r in data]
        if not more:
            break
    assert not set(exported) & {*ids, inactive} and len(set(exported)) == before - 4
    assert tenant.deleted_ids("customers") == sorted([*ids, inactive])


def test_delete_a_fraction_and_restore(tenant: Tenant) -> None:
    visible = tenant.counts()["estimates"]
    gone = tenant.delete("estimates", fraction=0.1)
    assert len(gone) == round(visible * 0.1)
    assert tenant.restore("estimates", gone[:2]) == gone[:2]
    assert tenant.counts()["estimates"] == visible - len(gone) + 2
    assert tenant.deleted_ids("estimates") == gone[2:]


def test_bad_delete_requests_say_what_is_wrong_and_delete_nothing(tenant: Tenant) -> None:
    ok = tenant.snapshot("estimates")[0]["id"]
    with pytest.raises(ValueError, match=r"no visible record with id\(s\) \[1\]"):
        tenant.delete("estimates", ids=[ok, 1])
    with pytest.raises(ValueError, match="either ids or fraction"):
        tenant.delete("estimates")
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        tenant.delete("estimates", fraction=1.5)
    with pytest.raises(ValueError, match="not deleted, cannot restore"):
        tenant.restore("estimates", [ok])
    assert tenant.deleted_ids("estimates") == []


def test_hide_fault_leaves_out_the_configured_share_consistently() -> None:
    faults = FaultState(SimConfig().faults(), seed=1)
    ids = np.arange(100_000, 110_000, dtype=np.int64)
    faults.update(hide_fraction=0.5, hide_entity="estimates")
    hidden = faults.hidden("estimates", ids)
    assert 0.48 < hidden.mean() < 0.52
    assert (faults.hidden("estimates", ids) == hidden).all()  # every page agrees
    assert not faults.hidden("payments", ids).any()
    with pytest.raises(ValueError, match=r"hide_fraction must be in \[0, 1\)"):
        faults.update(hide_fraction=1.0)


# -- validation and comparison -------------------------------------------------------------


def test_deletes_validation_is_red_when_the_guard_stopped_the_scan() -> None:
    counts = ScanCounts(keys_seen=120, in_scope=240, live=240, to_mark=120, to_unmark=0)
    doc = decide("estimates", counts, 0.02).to_doc()
    red = judge_deletes("estimates", {"run_id": "s", "detail": doc}, {})
    assert red.status == "RED" and "above the 2% guard" in red.message
    assert red.next_step.endswith("--allow-share 0.51")  # the refused 50% + a point


def test_deletes_validation_shows_marks_per_week() -> None:
    doc = decide("payments", ScanCounts(400, 403, 403, 3, 1), 0.02).to_doc()
    weeks = {dt.date(2025, 9, 22): 2, dt.date(2025, 9, 29): 3}
    ok = judge_deletes("payments", {"run_id": "s", "detail": doc}, weeks)
    assert ok.status == "GREEN" and ok.value == 5  # 2 + 3 rows marked over the two weeks
    assert ok.numbers["weeks"] == {"2025-09-22": 2, "2025-09-29": 3}
    assert "2025-09-29: 3" in ok.message and "1 reappeared" in ok.message
    never = judge_deletes("payments", None, {})
    assert never.status == "GREEN" and "never key-scanned" in never.message


def test_compare_counts_wrong_and_missing_marks() -> None:
    t = "2025-01-01T00:00:00Z"
    # source serves 1, 2. raw: 1 live, 2 marked deleted (wrongly), 3 marked (right),
    # 4 live but no longer served (a delete not marked).
    got = compare_entity("estimates", {"1": t, "2": t}, [("1", t), ("4", t)], ["2", "3"])
    assert (got.missing, got.unexpected, got.wrongly_deleted, got.marked_deleted) == (1, 1, 1, 2)
    assert compare_entity("estimates", {"1": t}, [("1", t)], ["3"]).ok
