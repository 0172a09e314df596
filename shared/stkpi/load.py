"""Load one fetched window: staging load job, loaded marker, lane, entity MERGE, run claim.

Order matters for no loss and one rebuild: the loaded marker is written only after the
window's rows are in the run's staging table; the entity's MERGE into raw runs once all
its windows are marked (``stkpi.entity_merge``); and the run's rebuild is claimed only by
a loader that sees every window of the run (the plan's, with split windows replaced by
their children) marked and every entity merged. The claim is a GCS object created with ``if_generation_match=0``:
of all loaders that see the last marker, exactly one creates it. If that loader crashes
after claiming but before publishing, the redelivery of the same load message recognises
its own claim and publishes again; a duplicate rebuild message is absorbed by the rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass

from stkpi import logs
from stkpi.context import PipelineContext
from stkpi.crashpoints import crash_point
from stkpi.entity_merge import all_merged, merge_when_staged
from stkpi.errors import PermanentError
from stkpi.landing import Landing, WindowRef
from stkpi.lanes import hand_off
from stkpi.messages import LoadMessage, RebuildMessage
from stkpi.registry import get_entity
from stkpi.runwindows import RunWindows, stored_plan
from stkpi.splits import marker

log = logs.get(__name__)


@dataclass(frozen=True)
class LoadResult:
    rows_loaded: int
    reused_job: bool
    entity_merged: bool
    rebuild_published: bool
    lane_handed_off: bool = False


def load_window(msg: LoadMessage, ctx: PipelineContext) -> LoadResult:
    entity = get_entity(msg.entity)
    landing = ctx.landing
    started = ctx.monotonic()
    manifest = landing.read_json(Landing.manifest_name(msg.gcs_prefix))
    if manifest is None:
        raise PermanentError(
            f"no manifest at {landing.uri(msg.gcs_prefix)}: the window was never completely fetched"
        )
    loaded = 0
    reused = False
    ref = WindowRef(msg.entity, msg.window_id)
    duplicate = _merged_already(msg, ref, ctx)
    if duplicate:
        # A duplicate delivery after the run merged this entity: its rows are in raw, and
        # appending them again would only leave a staging table nobody merges. It still
        # goes through the hand-off and claims below (a no-op unless it is a redelivery of
        # the delivery that holds one of them).
        log.info(
            "window already loaded and its entity merged",
            extra={"run_id": msg.run_id, "entity": msg.entity, "window_id": msg.window_id},
        )
    elif manifest["pages"] and manifest["records"]:
        _staging, _job_id, loaded, reused = ctx.warehouse.load_staging(
            entity,
            run_id=msg.run_id,
            window_id=msg.window_id,
            uris=[landing.uri(p) for p in manifest["pages"]],
            content_hash=manifest["content_hash"],
        )
        crash_point("load.after_load_job", entity=msg.entity)
    ctx.state.window_event(
        run_id=msg.run_id,
        entity=msg.entity,
        window_id=msg.window_id,
        state="loaded",
        pages=len(manifest["pages"]),
        records=manifest["records"],
        duration_ms=int((ctx.monotonic() - started) * 1000),
        detail={
            "rows_loaded": loaded,
            "reused_load_job": reused,
            "load_ms": int((ctx.monotonic() - started) * 1000),  # the benchmark's stages
        },
    )
    if not duplicate:  # the duplicate's marker is there, with the rows the MERGE counted
        landing.write_json(
            Landing.loaded_name(msg.run_id, ref),
            {"records": manifest["records"], "rows_loaded": loaded},
        )
    crash_point("load.after_marker")
    run = RunWindows.read(stored_plan(msg.run_id, landing), landing)
    handed_off = hand_off(run, ref, ctx)
    merged = merge_when_staged(run, msg.entity, ref, ctx)
    published = merged and maybe_claim_rebuild(run, ref, ctx)
    return LoadResult(loaded, reused, merged, published, handed_off)


def _merged_already(msg: LoadMessage, ref: WindowRef, ctx: PipelineContext) -> bool:
    landing = ctx.landing
    return landing.exists(Landing.merged_name(msg.run_id, msg.entity)) and landing.exists(
        Landing.loaded_name(msg.run_id, ref)
    )


def maybe_claim_rebuild(run: RunWindows, me: WindowRef, ctx: PipelineContext) -> bool:
    """Publish the run's rebuild if every window is loaded, every entity merged, and this
    loader holds (or just won) the claim. Returns whether a rebuild message was published."""
    landing = ctx.landing
    run_id = run.run_id
    expected = {marker(w) for w in run.leaves()}
    if not expected <= landing.loaded_windows(run_id) or not all_merged(run, ctx):
        return False
    claim_name = Landing.claim_name(run_id)
    won = landing.create_json_once(claim_name, {"claimed_by": me.marker})
    if not won:
        holder = (landing.read_json(claim_name) or {}).get("claimed_by")
        if holder != me.marker:
            return False  # another loader owns the rebuild of this run
    crash_point("load.after_claim")
    ctx.bus.publish(
        ctx.settings.topic_rebuild, RebuildMessage(run_id=run_id, entities=run.plan.entities)
    )
    log.info(
        "run complete; rebuild published",
        extra={"run_id": run_id, "claimed_by": me.marker, "windows": len(expected)},
    )
    return True
