"""Lane hand-off on the real emulators: never a lane lost, never a lane doubled.

Each test hands off the lane of one loaded window of a stored plan, as different
deliveries of its load message would (``stkpi.lanes``), and counts what reached a topic of
its own: exactly one publish of the successor per lane, whatever the delivery order.
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
from stkpi.landing import Landing, WindowRef, window_prefix
from stkpi.lanes import hand_off
from stkpi.localstack import DEFAULT_PROJECT
from stkpi.localstack.provision import ensure_bucket
from stkpi.localstack.settings_env import local_settings_env, settings_from
from stkpi.localstack.wiring import drain, ensure_subscription, ensure_topic
from stkpi.messages import LoadMessage, PlanMessage
from stkpi.planner import RunPlan, plan_run

pytestmark = pytest.mark.integration


@pytest.fixture
def lanes(gcs_emulator, pubsub_emulator) -> Iterator[tuple[PipelineContext, str, RunPlan]]:
    """A context whose window topic is a fresh one with a pull subscription to count on,
    and a stored plan of 3 lanes over 9 windows."""
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
    topic = ensure_topic(pub, settings.gcp_project, settings.topic_windows)
    counted = ensure_subscription(sub, settings.gcp_project, f"lanes-{tag}-count", topic)
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
    yield ctx, counted, plan


def _load(plan: RunPlan, i: int) -> LoadMessage:
    w = plan.windows[i]
    prefix = window_prefix(w.entity, plan.run_id, w.window_id)
    return LoadMessage(
        run_id=plan.run_id,
        entity=w.entity,
        window_id=w.window_id,
        gcs_prefix=prefix,
        pages=0,
        records=0,
    )


def _deliver(ctx, plan, i: int, message_id: str, attempt: int) -> bool:
    """One delivery of window i's load message reaching the hand-off."""
    token = runtime.DELIVERY_ID.set(message_id)
    turn = runtime.DELIVERY_ATTEMPT.set(attempt)
    try:
        return hand_off(plan, _load(plan, i), ctx)
    finally:
        runtime.DELIVERY_ID.reset(token)
        runtime.DELIVERY_ATTEMPT.reset(turn)


def _published(counted: str) -> list[str]:
    return [m.message.data.decode() for m in drain(counted, timeout=2)]


def test_the_first_hand_off_publishes_the_window_lanes_places_later(lanes) -> None:
    ctx, counted, plan = lanes
    assert _deliver(ctx, plan, 1, "m-1", 1)
    (body,) = _published(counted)
    assert plan.windows[4].window_id in body  # lane of window 1: 1 -> 4 -> 7


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


def test_a_redelivery_after_a_crash_between_claim_and_publish_publishes(lanes) -> None:
    ctx, counted, plan = lanes
    # The first delivery claimed the hand-off, then died before publishing (the claim
    # object is what it left behind).
    name = Landing.handoff_name(
        plan.run_id, WindowRef(plan.windows[3].entity, plan.windows[3].window_id)
    )
    ctx.landing.create_json_once(
        name, {"message_id": "m-1", "attempt": 1, "by": "jobs/x", "published": False}
    )
    assert _deliver(ctx, plan, 0, "m-1", 2)  # Pub/Sub's redelivery: same id, next attempt
    assert len(_published(counted)) == 1


def test_a_replayed_dead_letter_resumes_a_lane_its_first_delivery_never_published(
    lanes, monkeypatch
) -> None:
    ctx, counted, plan = lanes
    monkeypatch.setattr("stkpi.lanes.HANDOFF_WAIT", 1.0)
    name = Landing.handoff_name(
        plan.run_id, WindowRef(plan.windows[3].entity, plan.windows[3].window_id)
    )
    ctx.landing.create_json_once(
        name, {"message_id": "m-1", "attempt": 5, "by": "jobs/x", "published": False}
    )
    # `stkpi dead-letters --replay` republishes the body: a new message id, attempt 1.
    assert _deliver(ctx, plan, 0, "m-replayed", 1)
    assert len(_published(counted)) == 1
    # ... and once it is published, a further copy leaves the lane alone
    assert not _deliver(ctx, plan, 0, "m-other", 1)
    assert _published(counted) == []


def test_the_last_window_of_a_lane_hands_off_nothing(lanes) -> None:
    ctx, counted, plan = lanes
    assert len(plan.windows) == 9
    assert not _deliver(ctx, plan, 8, "m-1", 1)
    assert _published(counted) == []


def _claimed_not_published(ctx, plan) -> str:
    """What a holder leaves between claiming window 3's admission and publishing it."""
    name = Landing.handoff_name(
        plan.run_id, WindowRef(plan.windows[3].entity, plan.windows[3].window_id)
    )
    ctx.landing.create_json_once(
        name, {"message_id": "m-1", "attempt": 1, "by": "jobs/x", "published": False}
    )
    return name


def test_a_twin_whose_holder_dies_after_claiming_publishes_after_waiting(
    lanes, monkeypatch
) -> None:
    """Twins share one message: if the holder dies after claiming and the twin simply
    returned, its success would ack the message and the lane would be lost."""
    ctx, counted, plan = lanes
    monkeypatch.setattr("stkpi.lanes.HANDOFF_WAIT", 1.0)
    _claimed_not_published(ctx, plan)
    assert _deliver(ctx, plan, 0, "m-1", 1)  # the twin: same id, same attempt
    assert len(_published(counted)) == 1


def test_a_twin_whose_holder_publishes_meanwhile_leaves_the_lane_alone(lanes) -> None:
    ctx, counted, plan = lanes
    name = _claimed_not_published(ctx, plan)
    holder = threading.Timer(
        0.5,
        lambda: ctx.landing.write_json(
            name, {"message_id": "m-1", "attempt": 1, "by": "jobs/x", "published": True}
        ),
    )
    holder.start()  # the holder is alive and publishes half a second later
    try:
        assert not _deliver(ctx, plan, 0, "m-1", 1)
    finally:
        holder.join()
    assert _published(counted) == []  # the holder's publish is not this test's topic
