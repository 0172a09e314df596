"""What a fetch hands on when it does not finish its window here: a split or a continuation.

A window above the target size is split once (the record is first-writer-wins, so twins
that counted differently hand on the same children) and gives its lane to the children; a
fetch near its time budget republishes its window with ``page_from`` so the rest continues
in a fresh invocation (invariant 6). Both, like the fetched window, leave a row in
``st_ops.window_events``. Kept apart from ``stkpi.fetch``, which reads the window and
decides which of these happens.
"""

from __future__ import annotations

from typing import Any

from stkpi import logs
from stkpi.context import PipelineContext
from stkpi.crashpoints import crash_point
from stkpi.landing import Landing, WindowRef
from stkpi.lanes import hand_off, wake_idle_lanes
from stkpi.messages import WindowMessage
from stkpi.runwindows import RunWindows, stored_plan

log = logs.get("stkpi.fetch")


def window_event(
    msg: WindowMessage, ctx: PipelineContext, started: float, state: str, **fields: Any
) -> None:
    """The window's ``state`` in st_ops.window_events, timed from ``started``."""
    ctx.state.window_event(
        run_id=msg.run_id,
        entity=msg.entity,
        window_id=msg.window_id,
        state=state,
        start=msg.start,
        end=msg.end,
        duration_ms=int((ctx.monotonic() - started) * 1000),
        **fields,
    )


def split_name(msg: WindowMessage) -> str:
    """The window's split record: present once an earlier delivery split it."""
    return Landing.control_name(msg.run_id, "split", WindowRef(msg.entity, msg.window_id))


def record_split(
    msg: WindowMessage,
    children: list[WindowMessage],
    count: int,
    ctx: PipelineContext,
    started: float,
) -> int:
    """Record the split (first writer wins: a twin that counted differently hands on the
    recorded children, not its own) and pass the lane to the children; returns how many
    children were handed on."""
    ctx.landing.create_json_once(
        split_name(msg),
        {
            "count": count,
            "children": [c.model_dump(mode="json", exclude_none=True) for c in children],
        },
    )
    log.info(
        "window split by count",
        extra={
            "run_id": msg.run_id,
            "entity": msg.entity,
            "window_id": msg.window_id,
            "count": count,
            "children": len(children),
        },
    )
    crash_point("fetch.after_split_record")
    return hand_on_split(msg, ctx, started, count)


def hand_on_split(
    msg: WindowMessage, ctx: PipelineContext, started: float, count: int | None = None
) -> int:
    """Pass the window's lane to its recorded children (all of them at once when the plan
    has no lanes); returns how many there are."""
    run = RunWindows.read(stored_plan(msg.run_id, ctx.landing), ctx.landing)
    ref = WindowRef(msg.entity, msg.window_id)
    children = run.splits.get(ref.marker, ())
    if run.plan.lanes is None:  # a plan without lanes publishes every window at once
        for child in children:
            ctx.bus.publish(ctx.settings.topic_windows, child)
    else:
        hand_off(run, ref, ctx)
        wake_idle_lanes(run, ref, ctx)
    window_event(msg, ctx, started, "split", records=count, detail={"children": len(children)})
    return len(children)


def continue_window(
    msg: WindowMessage,
    cont: WindowMessage,
    ctx: PipelineContext,
    started: float,
    last_file: int,
    pass_no: int,
) -> None:
    """Republish the window as ``cont`` (``page_from`` on) for a fresh invocation."""
    ctx.bus.publish(ctx.settings.topic_windows, cont)
    window_event(
        msg,
        ctx,
        started,
        "continued",
        pages=last_file,
        detail={"next_page": cont.page_from, "pass": pass_no},
    )
    log.info(
        "window continued",
        extra={
            "run_id": msg.run_id,
            "entity": msg.entity,
            "window_id": msg.window_id,
            "next_page": cont.page_from,
        },
    )
