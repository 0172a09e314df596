"""Lane hand-off on the real emulators: never a lane lost, never a lane doubled.

Each test hands off the lane of one finished window of a stored plan, as different
deliveries of its load (or of its split fetch) would (``stkpi.lanes``), and counts what
reached a topic of its own: exactly one publish per lane, whatever the delivery order,
and every window taken by exactly one lane, also when windows split while the run goes.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from google.cloud import pubsub_v1

from stkpi import runtime
from stkpi.context import PipelineContext
from stkpi.landing import Landing, WindowRef
from stkpi.lanes import first_wave, hand_off, wake_idle_lanes
from stkpi.messages import PlanMessage, WindowMessage
from stkpi.planner import RunPlan, plan_run
from stkpi.runwindows import RunWindows
from stkpi.splits import split
from stkpi_tools.localstack import DEFAULT_PROJECT
from stkpi_tools.localstack.provision import ensure_bucket
from stkpi_tools.localstack.settings_env import local_settings_env, settings_from
from stkpi_tools.localstack.wiring import (
    drain,
    ensure_subscription,
    ensure_topic,
    pull_subscription,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def lanes(gcs_emulator, pubsub_emulator) -> Iterator[tuple[PipelineContext, str, RunPlan]]:
    """A context whose window topic is a fresh one with a pull subscription to count on,
    and a stored plan of 3 lanes over 9 windows whose first wave (0, 1, 2) is admitted."""
    tag = uuid.uuid4().hex[:8]
    settings = settings_from(
        {
            **local_settings_env(DEFAULT_PROJECT),
            **gcs_emulator.env,
            **pubsub_emulator.env,
            "TOPIC_WINDOWS": f"lanes-{tag}",
            "LANDING_BUCKET": "lanes-landing",
        }
    )
    ensure_bucket(settings)
    pub, sub = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    ensure_topic(pub, settings.gcp_project, settings.topic_windows)
    watch = pull_subscription(f"lanes-{tag}-count", settings.topic_windows)
    counted = ensure_subscription(sub, settings.gcp_project, watch)
    sub.close()
    msg = PlanMessage(
        run_type="backfill",
        entities=["jobs"],
        start=datetime(2025, 1, 1, tzinfo=UTC),
        end=datetime(2025, 4, 1, tzinfo=UTC),
        window_days=10,
        run_id=f"lanes-{tag}",
    )
    plan = plan_run(msg, now=msg.end, default_window_days=10, lanes=3)
    ctx = PipelineContext(settings)
    ctx.landing.create_json_once(Landing.plan_name(plan.run_id), plan.manifest())
    assert first_wave(plan, ctx) == plan.windows[:3]
    yield ctx, counted, plan


def _ref(w: WindowMessage) -> WindowRef:
    return WindowRef(w.entity, w.window_id)


def _deliver(ctx, plan, i: int, message_id: str, attempt: int) -> bool:
    """One delivery of window i's load message reaching the hand-off."""
    token = runtime.DELIVERY_ID.set(message_id)
    turn = runtime.DELIVERY_ATTEMPT.set(attempt)
    try:
        return hand_off(RunWindows.read(plan, ctx.landing), _ref(plan.windows[i]), ctx)
    finally:
        runtime.DELIVERY_ID.reset(token)
        runtime.DELIVERY_ATTEMPT.reset(turn)


def _published(counted: str) -> list[str]:
    return [m.message.data.decode() for m in drain(counted, timeout=2)]


def _ids(bodies: list[str]) -> list[str]:
    return sorted(WindowMessage.model_validate_json(b).window_id for b in bodies)


def test_a_hand_off_publishes_the_first_window_no_lane_took(lanes) -> None:
    ctx, counted, plan = lanes
    assert _deliver(ctx, plan, 1, "m-1", 1)
    assert _ids(_published(counted)) == [plan.windows[3].window_id]
    assert _deliver(ctx, plan, 0, "m-2", 1)  # the next lane to finish takes the next one
    assert _ids(_published(counted)) == [plan.windows[4].window_id]


def test_a_twin_delivery_does_not_double_the_lane(lanes) -> None:
    ctx, counted, plan = lanes
    # Pub/Sub delivered the same message twice at once: same id, same attempt.
    assert _deliver(ctx, plan, 0, "m-1", 1)
    assert not _deliver(ctx, plan, 0, "m-1", 1)
    assert len(_published(counted)) == 1


def test_a_duplicate_windows_load_after_the_hand_off_does_not_double_the_lane(lanes) -> None:
    ctx, counted, plan = lanes
    assert _deliver(ctx, plan, 0, "m-1", 1)
    # The window was delivered twice (a duplicate publish): its second load is another
    # message. The lane already moved on; a second copy of it would run to the end.
    assert not _deliver(ctx, plan, 0, "m-2", 1)
    assert len(_published(counted)) == 1


def _died_after_admitting(ctx, plan, message_id: str, attempt: int, admitted: int | None):
    """What a delivery of window 0's hand-off leaves when it dies before publishing: its
    hand-off object and, if it got that far, the window it admitted (``by`` window 0)."""
    ctx.landing.create_json_once(
        Landing.control_name(plan.run_id, "handed", _ref(plan.windows[0])),
        {"message_id": message_id, "attempt": attempt, "published": False},
    )
    if admitted is not None:
        by = _ref(plan.windows[0]).marker
        ctx.landing.create_json_once(
            Landing.handoff_name(plan.run_id, _ref(plan.windows[admitted])),
            {"by": by},
            metadata={"by": by},
        )


def test_a_redelivery_after_a_crash_publishes_the_window_the_dead_delivery_admitted(
    lanes,
) -> None:
    ctx, counted, plan = lanes
    # It admitted window 3, then died: window 3 is taken, so only this lane can publish it.
    _died_after_admitting(ctx, plan, "m-1", 1, admitted=3)
    assert _deliver(ctx, plan, 0, "m-1", 2)  # Pub/Sub's redelivery: same id, next attempt
    assert _ids(_published(counted)) == [plan.windows[3].window_id]
    assert _deliver(ctx, plan, 1, "m-9", 1)  # ... and the next lane goes on after it
    assert _ids(_published(counted)) == [plan.windows[4].window_id]


def test_a_replayed_dead_letter_resumes_a_lane_its_first_delivery_never_published(
    lanes, monkeypatch
) -> None:
    ctx, counted, plan = lanes
    monkeypatch.setattr("stkpi.lanes.HANDOFF_WAIT", 1.0)
    _died_after_admitting(ctx, plan, "m-1", 5, admitted=None)
    # `stkpi dead-letters --replay` republishes the body: a new message id, attempt 1.
    assert _deliver(ctx, plan, 0, "m-replayed", 1)
    assert _ids(_published(counted)) == [plan.windows[3].window_id]
    # ... and once it is published, a further copy leaves the lane alone
    assert not _deliver(ctx, plan, 0, "m-other", 1)
    assert _published(counted) == []


def test_a_twin_whose_holder_dies_after_claiming_publishes_after_waiting(
    lanes, monkeypatch
) -> None:
    """Twins share one message: if the holder dies after claiming and the twin simply
    returned, its success would ack the message and the lane would be lost."""
    ctx, counted, plan = lanes
    monkeypatch.setattr("stkpi.lanes.HANDOFF_WAIT", 1.0)
    _died_after_admitting(ctx, plan, "m-1", 1, admitted=3)
    assert _deliver(ctx, plan, 0, "m-1", 1)  # the twin: same id, same attempt
    assert _ids(_published(counted)) == [plan.windows[3].window_id]


def test_a_twin_whose_holder_publishes_meanwhile_leaves_the_lane_alone(lanes) -> None:
    ctx, counted, plan = lanes
    _died_after_admitting(ctx, plan, "m-1", 1, admitted=3)
    name = Landing.control_name(plan.run_id, "handed", _ref(plan.windows[0]))
    holder = threading.Timer(
        0.5,
        lambda: ctx.landing.write_json(
            name, {"message_id": "m-1", "attempt": 1, "published": True}
        ),
    )
    holder.start()  # the holder is alive and publishes half a second later
    try:
        assert not _deliver(ctx, plan, 0, "m-1", 1)
    finally:
        holder.join()
    assert _published(counted) == []  # the holder's publish is not this test's topic


def test_lanes_finishing_at_once_never_take_the_same_window(lanes) -> None:
    ctx, counted, plan = lanes
    # Six lanes hold windows 0-5 and finish at the same moment; 3 windows (6-8) are left.
    for w in plan.windows[3:6]:
        ctx.landing.create_json_once(Landing.handoff_name(plan.run_id, _ref(w)), {"by": "test"})
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(_deliver(ctx, plan, i, f"m-{i}", 1)))
        for i in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    published = _ids(_published(counted))
    assert published == sorted(w.window_id for w in plan.windows[6:])  # each exactly once
    assert results.count(True) == 3  # three lanes went on, three parked
    parked = ctx.landing.listing(Landing.control_dir(plan.run_id, "parked"))
    assert len(parked) == 3


def test_a_lane_with_nothing_left_parks_and_publishes_nothing(lanes) -> None:
    ctx, counted, plan = lanes
    for i in range(3, 9):  # every window is taken
        assert _deliver(ctx, plan, i - 3, f"m-{i}", 1)
    _published(counted)
    assert not _deliver(ctx, plan, 8, "m-last", 1)
    assert _published(counted) == []
    parked = ctx.landing.listing(Landing.control_dir(plan.run_id, "parked"))
    assert list(parked) == [_ref(plan.windows[8]).marker]


def _split_window(ctx, plan, i: int, pieces: int) -> list[WindowMessage]:
    """Record window i's split into ``pieces`` children, as its fetch would."""
    children = split(plan.windows[i], count=pieces * 50, target=100)
    ctx.landing.create_json_once(
        Landing.control_name(plan.run_id, "split", _ref(plan.windows[i])),
        {"count": pieces * 50, "children": [c.model_dump(mode="json") for c in children]},
    )
    return children


def test_a_split_window_passes_its_lane_to_its_first_child_before_later_windows(lanes) -> None:
    ctx, counted, plan = lanes
    children = _split_window(ctx, plan, 1, pieces=3)  # count 150, target 100: 3 children
    assert len(children) == 3
    assert _deliver(ctx, plan, 1, "m-1", 1)
    assert _ids(_published(counted)) == [children[0].window_id]
    # The run's windows now have the children in place of window 1; its leaves do not
    # include window 1 itself.
    run = RunWindows.read(plan, ctx.landing)
    assert [w.window_id for w in run.windows()[1:5]] == [
        plan.windows[1].window_id,
        *(c.window_id for c in children),
    ]
    assert plan.windows[1].window_id not in {w.window_id for w in run.leaves()}
    assert len(run.leaves()) == 9 - 1 + 3


def test_a_split_wakes_parked_lanes_with_its_other_children(lanes) -> None:
    ctx, counted, plan = lanes
    for i in range(3, 9):  # every window is taken ...
        assert _deliver(ctx, plan, i - 3, f"m-{i}", 1)
    assert not _deliver(ctx, plan, 8, "m-8", 1)  # ... so lanes of windows 8 and 7 park
    assert not _deliver(ctx, plan, 7, "m-7", 1)
    _published(counted)
    children = _split_window(ctx, plan, 6, pieces=4)
    run = RunWindows.read(plan, ctx.landing)
    assert hand_off(run, _ref(plan.windows[6]), ctx)  # the split window's own lane
    assert wake_idle_lanes(run, _ref(plan.windows[6]), ctx) == 2  # both parked lanes
    assert _ids(_published(counted)) == sorted(c.window_id for c in children[:3])
    assert ctx.landing.listing(Landing.control_dir(plan.run_id, "parked")) == {}
    # The fourth child waits for the next lane to finish: the first child's.
    run = RunWindows.read(plan, ctx.landing)
    assert hand_off(run, _ref(children[0]), ctx)
    assert _ids(_published(counted)) == [children[3].window_id]
