"""compare_entity: each way a copy can differ from its source is counted, none hides another,
whatever spelling each side gives modifiedOn; the packed (key, modifiedOn) strings both
sides send come back exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stkpi.messages import PlanMessage
from stkpi.planner import RunPlan, plan_run
from stkpi_tools.chaos.compare import CopyHorizon, compare_entity, to_micros, unpack_versions
from stkpi_tools.sim.packed_versions import pack

T1 = "2025-01-01T00:00:00Z"
T2 = "2025-01-02T00:00:00Z"
D1 = datetime(2025, 1, 1, tzinfo=UTC)
D2 = datetime(2025, 1, 2, tzinfo=UTC)


def test_an_exact_copy_is_ok_whatever_the_timestamp_types() -> None:
    got = compare_entity("jobs", {"1": T1, "2": T2}, [("1", D1), ("2", D2)])
    assert got.ok and got.expected == 2 and got.in_raw == 2 and got.duplicates == 0


def test_every_kind_of_difference_is_counted() -> None:
    # source: keys 1..4. raw: 1 twice (duplicate), 2 at an old version (outdated),
    # 3 absent (missing), 4 right, 9 not in the source (unexpected).
    source = {"1": T1, "2": T2, "3": T1, "4": T1}
    raw = [("1", D1), ("1", D1), ("2", D1), ("4", D1), ("9", D1)]
    got = compare_entity("jobs", source, raw)
    assert not got.ok
    assert (got.expected, got.in_raw) == (4, 5)
    assert (got.duplicates, got.missing, got.outdated, got.unexpected) == (1, 1, 1, 1)
    assert "missing 3" in got.examples and "unexpected 9" in got.examples


def test_null_modified_on_matches_null() -> None:
    assert compare_entity("business_units", {"7": None}, [("7", None)]).ok


def test_packed_versions_unpack_to_keys_and_exact_times() -> None:
    # 1700000000123456 us after the epoch = 2023-11-14T22:13:20.123456Z; "-" = no modifiedOn
    pairs = unpack_versions("40000001 1700000000123456,ab12cd 0,7 -")
    assert pairs == [("40000001", 1_700_000_000_123_456), ("ab12cd", 0), ("7", None)]
    assert to_micros(datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)) == pairs[0][1]
    assert unpack_versions("") == []
    assert unpack_versions(pack(pairs)) == pairs  # the simulator's side packs the same way
    assert pack([]) == ""


def test_a_key_that_cannot_be_packed_is_refused() -> None:
    with pytest.raises(ValueError, match="comma"):
        pack([("a,b", 1)])
    with pytest.raises(ValueError, match="space"):
        pack([("a b", None)])


def test_every_spelling_of_an_instant_is_the_same_microsecond() -> None:
    # 2025-01-01T00:00:00Z is 55 years after the epoch: 20,089 days (55 x 365 + 14 leap days,
    # 1972 to 2024) x 86,400 s = 1,735,689,600 s.
    micros = 1_735_689_600 * 1_000_000
    assert to_micros(T1) == to_micros(D1) == to_micros(micros) == micros
    assert to_micros("2025-01-01T07:00:00+07:00") == micros
    assert to_micros(None) is None
    # so a copy compares equal whichever side sends text, datetimes or packed integers
    assert compare_entity("jobs", {"1": micros}, [("1", T1)]).ok
    got = compare_entity("jobs", {"1": micros + 1}, [("1", D1)])
    assert got.outdated == 1 and "2025-01-01T00:00:00.000001+00:00" in got.examples[0]


def test_a_record_stamped_at_or_after_the_copys_end_is_pending_not_lost() -> None:
    # The runs read [.., D2): key 1 (modified at D1) is due; keys 2 and 3, modified exactly
    # at D2, lie on the open end of every window read so far: the next run's. Raw lacks 2
    # and holds 3 at its older version D1: both pending, neither missing nor outdated.
    source = {"1": T1, "2": T2, "3": T2}
    raw = [("1", D1), ("3", D1)]
    got = compare_entity("jobs", source, raw, copied_until=D2)
    assert got.ok and (got.missing, got.outdated, got.pending) == (0, 0, 2)
    assert "2 pending" in got.describe()
    # Judged against the whole present, as before, the same copy looked like a loss.
    whole = compare_entity("jobs", source, raw)
    assert (whole.missing, whole.outdated, whole.pending) == (1, 1, 0)
    # Once a run has read past D2 (a second later) they are due: absent is missing, the
    # older version outdated.
    after = compare_entity("jobs", source, raw, copied_until=D2 + timedelta(seconds=1))
    assert not after.ok and (after.missing, after.outdated, after.pending) == (1, 1, 0)


def test_pending_never_excuses_a_due_record_or_a_version_the_source_never_had() -> None:
    # Read up to D2: key 1 (modified at D1, before it) absent is missing; key 2 (at D2,
    # pending) held in raw at a version newer than the source's is outdated, not pending.
    source = {"1": T1, "2": T2}
    got = compare_entity("jobs", source, [("2", "2025-01-03T00:00:00Z")], copied_until=D2)
    assert (got.missing, got.outdated, got.pending) == (1, 1, 0)
    # A record without a modifiedOn is always due.
    assert compare_entity("business_units", {"7": None}, [], copied_until=D1).missing == 1


def test_the_horizon_is_the_latest_end_of_the_windowed_runs_made() -> None:
    def plan(run_type: str, end: datetime, entities: list[str]) -> RunPlan:
        msg = PlanMessage(run_type=run_type, entities=entities, start=D1, end=end, run_id="r")
        return plan_run(msg, now=end, default_window_days=30)

    horizon = CopyHorizon()
    horizon.add(plan("backfill", D2, ["estimates", "business_units"]))
    horizon.add(plan("backfill", D1 + timedelta(hours=1), ["estimates"]))  # a past range
    horizon.add(plan("deletes", D2 + timedelta(days=1), ["estimates"]))  # copies nothing
    # estimates: the first run's end (the later, shorter replay takes nothing back); the
    # reference entity is listed whole, so it has no horizon (all of it is always due).
    assert horizon.ends == {"estimates": D2}
