"""Window lanes: a run keeps at most ``lanes`` windows in flight, however many it has.

Cloud Run refuses a delivery beyond a function's ``max_instance_count x concurrency`` with
429, and Pub/Sub counts that as a failed delivery attempt: a backfill that published all
its windows at once would have most of them dead-lettered while they waited for a free
fetch instance, although nothing is wrong. So a run has ``lanes`` lanes (terraform/main.tf:
the smaller of fetch_window's and load_batch's capacity), each holding one window message
at a time, at fetch or at load.

A lane is not a fixed list: windows split as their counts become known (``stkpi.splits``),
so the run's windows grow while it runs. Every window is taken by a lane exactly once,
through an ``admitted/<window>`` object created with ``if_generation_match=0``: the plan
step admits the first wave, and a window that is done (loaded, or split into children)
passes its lane on by admitting the first window of the run, in plan order with children
in place of their parent, that no lane took yet. A lane that finds none parks
(``parked/<window>``); a window that splits wakes parked lanes with its other children,
so a split's children run side by side instead of one after another in one lane. Parking
and waking only ever cost parallelism when they race: the splitting window's own lane
always continues, so no window is left without a lane.

A hand-off must neither lose a lane nor double it. The ``handed/<window>`` object, created
once, names the delivery that passes the lane on (message id, attempt), the window it
admitted (the admitted object carries ``by`` as metadata, so a redelivery finds it with one
listing), and is marked published once that window is published. A delivery that finds it:
- marked published: leaves the lane alone (it moved on), so a duplicate window's load
  dies out here instead of running a second copy of the lane;
- naming its own message with an earlier attempt: that delivery failed or crashed after
  creating it and Pub/Sub redelivered the message: it completes the hand-off at once;
- otherwise (a twin of the same delivery, or another message's load): it waits for the
  holder to mark it published and, if that does not happen within ``HANDOFF_WAIT``,
  completes the hand-off itself. A twin must not simply return: if the holder dies after
  claiming, the twin's success acks the message and nobody would pass the lane on.
Publishing twice is at worst one duplicate window message, which every step absorbs
(invariants 2 and 3) and which dies out at the next hand-off.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from stkpi import logs
from stkpi.context import PipelineContext
from stkpi.crashpoints import crash_point
from stkpi.landing import Landing, WindowRef
from stkpi.messages import WindowMessage
from stkpi.planner import RunPlan
from stkpi.runtime import DELIVERY_ATTEMPT, DELIVERY_ID
from stkpi.runwindows import RunWindows
from stkpi.splits import marker

log = logs.get(__name__)

HANDOFF_WAIT = 20.0  # seconds; a holder publishes within milliseconds of claiming
POLL = 0.5
PLAN = "plan"  # who admitted the first wave


def first_wave(plan: RunPlan, ctx: PipelineContext) -> tuple[WindowMessage, ...]:
    """Admit the plan's first window of every lane; returns the windows to publish.

    A redelivered plan message admits nothing new and republishes the same windows
    (duplicates die out at their hand-off)."""
    wave = plan.first_wave()
    if plan.lanes is not None:
        for window in wave:
            _admit(plan.run_id, window, PLAN, ctx)
    return wave


def hand_off(run: RunWindows, done: WindowRef, ctx: PipelineContext) -> bool:
    """Pass the lane of ``done`` (loaded, or split) on to the next window no lane took,
    if this delivery owns the hand-off (module docstring). Returns whether it published."""
    if run.plan.lanes is None:
        return False  # a plan stored before lanes existed: every window was published
    name = Landing.control_name(run.run_id, "handed", done)
    me = {
        "message_id": DELIVERY_ID.get(),
        "attempt": DELIVERY_ATTEMPT.get(),
        "published": False,
    }
    if not ctx.landing.create_json_once(name, me) and not _take_over(ctx, name, me):
        return False
    taken = _admitted(run, ctx)  # one listing serves both questions
    nxt = _admitted_by(run, done.marker, taken) or _claim_next(run, done.marker, ctx, taken)
    if nxt is None:
        nxt = _park(run, done, ctx)
    if nxt is None:
        ctx.landing.write_json(name, {**me, "published": True, "next": None})
        log.info(
            "lane parked: no window left to take",
            extra={"run_id": run.run_id, "entity": done.entity, "window_id": done.window_id},
        )
        return False
    crash_point("lanes.before_publish")
    ctx.bus.publish(ctx.settings.topic_windows, nxt)
    ctx.landing.write_json(name, {**me, "published": True, "next": marker(nxt)})
    log.info(
        "lane handed off",
        extra={
            "run_id": run.run_id,
            "entity": done.entity,
            "window_id": done.window_id,
            "next": marker(nxt),
        },
    )
    return True


def wake_idle_lanes(run: RunWindows, by: WindowRef, ctx: PipelineContext) -> int:
    """Give each parked lane one of the windows no lane took (a split's children);
    returns how many lanes it woke. Deleting a parked object with its generation is the
    wake-up: of a waker and the lane itself unparking, exactly one wins."""
    folder = Landing.control_dir(run.run_id, "parked")
    woke = 0
    for parked, (generation, _) in sorted(ctx.landing.listing(folder).items()):
        if not _unclaimed(run, ctx):
            break
        name = f"{folder}{parked}.json"
        if not ctx.landing.delete_if(name, generation=generation):
            continue
        window = _claim_next(run, f"{by.marker}+wake:{parked}", ctx)
        if window is None:  # taken meanwhile: the lane is idle again
            ctx.landing.write_json_if(name, {}, generation=0)
            break
        ctx.bus.publish(ctx.settings.topic_windows, window)
        woke += 1
    if woke:
        log.info(
            "idle lanes woken",
            extra={"run_id": run.run_id, "by": by.marker, "lanes": woke},
        )
    return woke


def _admit(run_id: str, window: WindowMessage, by: str, ctx: PipelineContext) -> bool:
    name = Landing.handoff_name(run_id, WindowRef(window.entity, window.window_id))
    return ctx.landing.create_json_once(name, {"by": by}, metadata={"by": by})


def _admitted(run: RunWindows, ctx: PipelineContext) -> dict[str, tuple[int, dict[str, str]]]:
    return ctx.landing.listing(Landing.control_dir(run.run_id, "admitted"))


def _unclaimed(
    run: RunWindows, ctx: PipelineContext, taken: Mapping[str, object] | None = None
) -> list[WindowMessage]:
    taken = _admitted(run, ctx) if taken is None else taken
    return [w for w in run.windows() if marker(w) not in taken and not run.is_split(w)]


def _admitted_by(
    run: RunWindows, by: str, taken: Mapping[str, tuple[int, dict[str, str]]]
) -> WindowMessage | None:
    """The window an earlier delivery of this hand-off admitted before it died."""
    for name, (_, meta) in taken.items():
        if meta.get("by") == by:
            return run.find(name)
    return None


def _claim_next(
    run: RunWindows,
    by: str,
    ctx: PipelineContext,
    taken: Mapping[str, object] | None = None,
) -> WindowMessage | None:
    for window in _unclaimed(run, ctx, taken):
        if _admit(run.run_id, window, by, ctx):
            return window
    return None


def _park(run: RunWindows, done: WindowRef, ctx: PipelineContext) -> WindowMessage | None:
    """Park the lane of ``done``, then look once more: a window that split between the
    first look and the parking would otherwise not know this lane is idle. Returns a
    window to publish if the lane unparked itself and took one."""
    name = Landing.control_name(run.run_id, "parked", done)
    generation = ctx.landing.write_json_if(name, {}, generation=0)
    if not generation:
        _, generation = ctx.landing.read_json_versioned(name)  # a redelivery parked it
    fresh = RunWindows.read(run.plan, ctx.landing)
    if not generation or not _unclaimed(fresh, ctx):
        return None
    if not ctx.landing.delete_if(name, generation=generation):
        return None  # a splitting window woke this lane and published for it
    return _claim_next(fresh, done.marker, ctx)


def _take_over(ctx: PipelineContext, name: str, me: dict) -> bool:
    """Whether this delivery must complete a hand-off another delivery already claimed."""
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
