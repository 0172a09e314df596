"""Lane hand-off: a loaded window admits the next window of its lane, once.

Cloud Run refuses a delivery beyond a function's ``max_instance_count x concurrency`` with
429, and Pub/Sub counts that as a failed delivery attempt: a backfill that published all
its windows at once would have most of them dead-lettered while they waited for a free
fetch instance, although nothing is wrong. So a run keeps at most ``lanes`` windows in
flight (terraform/main.tf: the smaller of fetch_window's and load_batch's capacity): the
plan step publishes one window per lane, and every loaded window hands its lane to the
window ``lanes`` places later in the plan (``RunPlan.successor``). Each lane holds one
message at a time, at fetch or at load, so neither function is ever asked for more than it
has, however many windows the run has.

The hand-off must neither lose a lane nor double it. A GCS object per admitted window,
created with ``if_generation_match=0``, names the delivery that admitted it (message id,
attempt) and is marked published once the successor is published. A delivery that finds
the object:
- marked published: leaves the lane alone (it moved on), so a duplicate window's load
  dies out here instead of running a second copy of the lane to the end;
- naming its own message with an earlier attempt: that delivery failed or crashed after
  creating it and Pub/Sub redelivered the message: it publishes at once;
- otherwise (a twin of the same delivery, or another message's load): it waits for the
  holder to mark it published and, if that does not happen within ``HANDOFF_WAIT``,
  publishes itself. A twin must not simply return: if the holder dies after claiming,
  the twin's success acks the message and nobody would publish; and a dead-lettered
  load's replay (another message id) finds an object that will never be marked.
Publishing twice is at worst one duplicate window message, which every step absorbs
(invariants 2 and 3) and which dies out at the next hand-off.
"""

from __future__ import annotations

import time

from stkpi import logs
from stkpi.context import PipelineContext
from stkpi.crashpoints import crash_point
from stkpi.landing import Landing, WindowRef
from stkpi.messages import LoadMessage
from stkpi.planner import RunPlan
from stkpi.runtime import DELIVERY_ATTEMPT, DELIVERY_ID

log = logs.get(__name__)

HANDOFF_WAIT = 20.0  # seconds; a holder publishes within milliseconds of claiming
POLL = 0.5


def hand_off(plan: RunPlan, msg: LoadMessage, ctx: PipelineContext) -> bool:
    """Publish the successor of the loaded window ``msg`` if this delivery owns the
    hand-off (see the module docstring). Returns whether it published."""
    successor = plan.successor(msg.entity, msg.window_id)
    if successor is None:
        return False
    name = Landing.handoff_name(plan.run_id, WindowRef(successor.entity, successor.window_id))
    me = {
        "message_id": DELIVERY_ID.get(),
        "attempt": DELIVERY_ATTEMPT.get(),
        "by": WindowRef(msg.entity, msg.window_id).marker,
        "published": False,
    }
    if not ctx.landing.create_json_once(name, me) and not _take_over(ctx, name, me):
        return False
    crash_point("load.before_handoff_publish")
    ctx.bus.publish(ctx.settings.topic_windows, successor)
    ctx.landing.write_json(name, {**me, "published": True})
    log.info(
        "lane handed off",
        extra={
            "run_id": plan.run_id,
            "entity": msg.entity,
            "window_id": msg.window_id,
            "next": WindowRef(successor.entity, successor.window_id).marker,
        },
    )
    return True


def _take_over(ctx: PipelineContext, name: str, me: dict) -> bool:
    """Whether this delivery must publish a successor another delivery already claimed."""
    deadline = time.monotonic() + HANDOFF_WAIT
    while True:
        held = ctx.landing.read_json(name) or {}
        if held.get("published"):
            return False
        redelivery = held.get("message_id") == me["message_id"] and int(
            held.get("attempt") or 0
        ) < int(me["attempt"])
        if redelivery or time.monotonic() >= deadline:
            return True
        time.sleep(POLL)
