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
attempt) and whether it published. A delivery publishes the successor when:
- it created the object (the first hand-off); it then marks it published;
- the object names its own message with an earlier attempt: that delivery failed or
  crashed after creating it, and Pub/Sub redelivered the load message;
- the object, created by another message, was never marked published: that delivery
  died before publishing and its message was dead-lettered, and this is the replay.
A twin delivery (same message, same attempt) and a duplicate window's load after the
publish leave the lane alone, so a duplicate dies out at the next hand-off instead of
running a second copy of the lane to the end. A publish twice is at worst one duplicate
window message, which every step absorbs (invariants 2 and 3).
"""

from __future__ import annotations

from stkpi import logs
from stkpi.context import PipelineContext
from stkpi.crashpoints import crash_point
from stkpi.landing import Landing, WindowRef
from stkpi.messages import LoadMessage
from stkpi.planner import RunPlan
from stkpi.runtime import DELIVERY_ATTEMPT, DELIVERY_ID

log = logs.get(__name__)


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
    if not ctx.landing.create_json_once(name, me):
        held = ctx.landing.read_json(name) or {}
        if held.get("message_id") == me["message_id"]:
            mine_again = int(held.get("attempt") or 0) < me["attempt"]
        else:
            mine_again = not held.get("published", False)
        if not mine_again:
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
