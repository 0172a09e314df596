"""The plan step: turn a plan message into the run's windows and publish them.

The run's plan is stored before any window is published, with ``if_generation_match=0``:
the first delivery's plan wins, and a redelivered plan message republishes exactly the same
windows (duplicates are harmless downstream) instead of planning a different set after the
high-water marks moved. Loaders compare their markers against this stored plan.

Only the first ``window_lanes`` windows are published here (and admitted into their
lanes); each window that is done hands its lane to the next one no lane took
(``stkpi.lanes``), so a run never has more windows in flight than fetch_window and
load_batch have instances for (terraform/main.tf, window_lanes).
"""

from __future__ import annotations

from stkpi import logs
from stkpi.context import PipelineContext
from stkpi.crashpoints import crash_point
from stkpi.landing import Landing
from stkpi.lanes import first_wave
from stkpi.messages import PlanMessage
from stkpi.planner import RunPlan, plan_run

log = logs.get(__name__)


def plan_and_publish(msg: PlanMessage, ctx: PipelineContext) -> RunPlan:
    daily = msg.run_type == "daily"
    plan = plan_run(
        msg,
        now=ctx.tenant_now(),
        default_window_days=ctx.settings.window_days,
        marks=ctx.state.high_water_marks() if daily else {},
        lanes=ctx.settings.window_lanes,
        tokens=ctx.state.export_tokens() if daily else {},
    )
    name = Landing.plan_name(plan.run_id)
    if ctx.landing.create_json_once(name, plan.manifest()):
        notes = {"notes": list(plan.notes)} if plan.notes else None
        ctx.state.plan_event(plan, "planned", detail=notes)
    else:
        plan = RunPlan.from_manifest(ctx.landing.read_json(name) or plan.manifest())
    crash_point("plan.before_publish")
    for window in first_wave(plan, ctx):
        ctx.bus.publish(ctx.settings.topic_windows, window)
    log.info(
        "run planned",
        extra={
            "run_id": plan.run_id,
            "windows": len(plan.windows),
            "lanes": plan.lanes,
            "entities": plan.entities,
        },
    )
    return plan
