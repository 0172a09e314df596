"""Planning: backfill and daily runs cut into half-open windows, with clear errors."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from stkpi.errors import BadMessageError, PermanentError
from stkpi.messages import PlanMessage, WindowMessage, decode
from stkpi.planner import RunPlan, plan_run
from stkpi.registry import REFERENCE, TRANSACTIONAL
from stkpi.windows import cut

NOW = datetime(2025, 10, 1, 12, 34, tzinfo=UTC)


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_windows_are_half_open_and_tile_the_range() -> None:
    start, end = _ts("2025-01-01T00:00:00"), _ts("2025-01-20T00:00:00")
    windows = cut(start, end, 7)
    # 19 days in 7-day windows: [1,8) [8,15) [15,20): the last one is shorter.
    assert [(w.start.day, w.end.day) for w in windows] == [(1, 8), (8, 15), (15, 20)]
    for a, b in itertools.pairwise(windows):
        assert a.end == b.start  # no gap, no overlap


def test_backfill_plans_every_entity_in_windows() -> None:
    msg = PlanMessage(
        run_type="backfill",
        entities=["jobs", "business_units"],
        start=_ts("2025-08-01T00:00:00"),
        end=_ts("2025-08-31T00:00:00"),
        window_days=10,
        run_id="bf-1",
    )
    plan = plan_run(msg, now=NOW, default_window_days=7)
    jobs = [w for w in plan.windows if w.entity == "jobs"]
    refs = [w for w in plan.windows if w.entity == "business_units"]
    # 30 days / 10 = 3 jobs windows; the reference entity is one full refresh.
    assert len(jobs) == 3
    assert len(refs) == 1
    assert all(w.run_id == "bf-1" for w in plan.windows)
    assert len({w.window_id for w in jobs}) == 3


def test_daily_starts_at_high_water_minus_lookback() -> None:
    mark = _ts("2025-09-30T12:00:00")
    plan = plan_run(
        PlanMessage(run_type="daily", entities=["jobs", "estimates"]),
        now=NOW,
        default_window_days=30,
        marks={"jobs": mark, "estimates": mark},
    )
    end = _ts("2025-10-01T12:00:00")  # now floored to the hour
    by_entity: dict[str, list[WindowMessage]] = {}
    for w in plan.windows:
        by_entity.setdefault(w.entity, []).append(w)
    assert by_entity["jobs"][0].start == mark - timedelta(days=7)
    assert by_entity["estimates"][0].start == mark - timedelta(days=180)
    assert all(ws[-1].end == end for ws in by_entity.values())
    assert plan.run_id == "daily-20251001T120000Z"


def test_daily_refreshes_everything_and_reference_run_only_references() -> None:
    daily = plan_run(PlanMessage(run_type="daily"), now=NOW, default_window_days=7)
    ref = plan_run(PlanMessage(run_type="reference"), now=NOW, default_window_days=7)
    assert set(daily.entities) == set(TRANSACTIONAL) | set(REFERENCE)
    assert set(ref.entities) == set(REFERENCE)
    # reference entities are one full-refresh window each
    assert sum(1 for w in daily.windows if w.entity in REFERENCE) == len(REFERENCE)
    assert any("no high-water mark" in n for n in daily.notes)


def test_same_daily_message_plans_the_same_run() -> None:
    msg = PlanMessage(run_type="daily", entities=["jobs"])
    marks = {"jobs": _ts("2025-09-30T00:00:00")}
    a = plan_run(msg, now=NOW, default_window_days=7, marks=marks)
    b = plan_run(msg, now=NOW + timedelta(minutes=20), default_window_days=7, marks=marks)
    assert a.manifest() == b.manifest()


def test_manifest_round_trips() -> None:
    plan = plan_run(PlanMessage(run_type="daily"), now=NOW, default_window_days=7)
    assert RunPlan.from_manifest(plan.manifest()) == plan


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (
            b'{"v":1,"run_type":"backfill","entities":["jobz"],'
            b'"start":"2025-01-01T00:00:00Z","end":"2025-02-01T00:00:00Z"}',
            "unknown entity 'jobz'",
        ),
        (
            b'{"v":1,"run_type":"backfill","start":"2025-02-01T00:00:00Z",'
            b'"end":"2025-01-01T00:00:00Z"}',
            "is not after start",
        ),
        (b'{"v":1,"run_type":"backfill","start":"2025-02-01T00:00:00Z"}', "needs both start"),
        (b'{"v":2,"run_type":"daily"}', "v: Input should be 1"),
        (b"not json", "body is not JSON"),
        (b'{"v":1,"run_type":"daily","start":"2025-02-01T00:00:00"}', "UTC offset"),
    ],
)
def test_bad_plan_messages_are_permanent_errors(body: bytes, needle: str) -> None:
    with pytest.raises(BadMessageError) as info:
        decode(PlanMessage, body)
    assert needle in str(info.value)


def test_reversed_window_message_is_rejected() -> None:
    with pytest.raises(BadMessageError, match="is not after start"):
        decode(
            WindowMessage,
            b'{"v":1,"run_id":"r","entity":"jobs","window_id":"w",'
            b'"start":"2025-01-02T00:00:00Z","end":"2025-01-01T00:00:00Z"}',
        )


@pytest.mark.parametrize("run_type", ["backfill", "deletes"])
def test_a_plan_ending_in_the_future_is_refused(run_type: str) -> None:
    # A backfill to 2099 used to write 2099 as the high-water mark: every daily run after
    # planned start > end and was dead-lettered until then.
    msg = PlanMessage(
        run_type=run_type, start=_ts("2025-01-01T00:00:00"), end=NOW + timedelta(hours=1)
    )
    with pytest.raises(PermanentError, match="is in the future"):
        plan_run(msg, now=NOW, default_window_days=7)
    at_now = msg.model_copy(update={"end": NOW})
    assert plan_run(at_now, now=NOW, default_window_days=7).end == NOW


def test_a_mark_in_the_future_does_not_freeze_the_daily_run() -> None:
    # Written before plans refused future ends: the daily run starts its lookback at now.
    plan = plan_run(
        PlanMessage(run_type="daily", entities=["jobs"]),
        now=NOW,
        default_window_days=30,
        marks={"jobs": _ts("2099-01-01T00:00:00")},
    )
    end = _ts("2025-10-01T12:00:00")
    assert plan.windows[0].start == end - timedelta(days=7)
    assert plan.windows[-1].end == end
    assert any("in the future" in note for note in plan.notes)


def test_empty_range_is_a_clear_error() -> None:
    with pytest.raises(PermanentError, match="empty or reversed range"):
        cut(_ts("2025-01-02T00:00:00"), _ts("2025-01-02T00:00:00"), 7)


def _lane_plan(lanes: int | None) -> RunPlan:
    msg = PlanMessage(
        run_type="backfill",
        entities=["jobs", "invoices"],
        start=_ts("2025-01-01T00:00:00"),
        end=_ts("2025-03-02T00:00:00"),  # 60 days in 10-day windows: 6 per entity
        window_days=10,
        run_id="bf-lanes",
    )
    return plan_run(msg, now=NOW, default_window_days=7, lanes=lanes)


def test_lanes_publish_one_window_per_lane_first() -> None:
    plan = _lane_plan(lanes=5)
    assert len(plan.windows) == 12
    assert plan.first_wave() == plan.windows[:5]


def test_every_window_is_in_exactly_one_lane_and_each_lane_runs_in_plan_order() -> None:
    plan = _lane_plan(lanes=5)
    admitted: list[WindowMessage] = []
    for head in plan.first_wave():  # follow each lane from its first window to its end
        window: WindowMessage | None = head
        while window is not None:
            admitted.append(window)
            window = plan.successor(window.entity, window.window_id)
    # 12 windows over 5 lanes: lane k holds windows k, k+5, k+10 (k < 2) or k, k+5
    assert sorted(admitted, key=plan.windows.index) == list(plan.windows)
    assert len(admitted) == len(set(admitted)) == 12
    assert plan.successor(plan.windows[1].entity, plan.windows[1].window_id) == plan.windows[6]
    assert plan.successor(plan.windows[11].entity, plan.windows[11].window_id) is None


def test_more_lanes_than_windows_publishes_all_and_hands_off_nothing() -> None:
    plan = _lane_plan(lanes=50)
    assert plan.first_wave() == plan.windows
    assert all(plan.successor(w.entity, w.window_id) is None for w in plan.windows)


def test_lanes_survive_the_stored_plan_and_old_plans_publish_everything() -> None:
    plan = _lane_plan(lanes=3)
    again = RunPlan.from_manifest(plan.manifest())
    assert again.lanes == 3 and again.first_wave() == plan.windows[:3]
    old = plan.manifest()
    del old["lanes"]  # a plan stored before lanes existed: every window was published
    legacy = RunPlan.from_manifest(old)
    assert legacy.first_wave() == plan.windows
    assert legacy.successor(plan.windows[0].entity, plan.windows[0].window_id) is None
