"""Load one fetched window: staging load job, MERGE into raw, loaded marker, run claim.

Order matters for no loss and one rebuild: the loaded marker is written only after the
MERGE succeeded, and the run's rebuild is claimed only by a loader that sees every window
of the run's plan marked. The claim is a GCS object created with ``if_generation_match=0``:
of all loaders that see the last marker, exactly one creates it. If that loader crashes
after claiming but before publishing, the redelivery of the same load message recognises
its own claim and publishes again; a duplicate rebuild message is absorbed by the rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.api_core.exceptions import NotFound

from stkpi import logs
from stkpi.context import PipelineContext
from stkpi.crashpoints import crash_point
from stkpi.errors import PermanentError
from stkpi.landing import Landing, WindowRef
from stkpi.lanes import hand_off
from stkpi.messages import LoadMessage, RebuildMessage
from stkpi.planner import RunPlan
from stkpi.registry import Entity, get_entity

log = logs.get(__name__)


@dataclass(frozen=True)
class LoadResult:
    rows_loaded: int
    rows_merged: int
    reused_job: bool
    rebuild_published: bool
    lane_handed_off: bool = False


def load_window(msg: LoadMessage, ctx: PipelineContext) -> LoadResult:
    entity = get_entity(msg.entity)
    landing = ctx.landing
    started = ctx.monotonic()
    manifest = landing.read_json(Landing.manifest_name(msg.gcs_prefix))
    if manifest is None:
        raise PermanentError(
            f"no manifest at gs://{landing.bucket_name}/{msg.gcs_prefix}: "
            "the window was never completely fetched"
        )
    loaded = merged = 0
    reused = False
    load_ms = merge_ms = 0
    if manifest["pages"] and manifest["records"]:
        staging, _job_id, loaded, reused = ctx.warehouse.load_staging(
            entity,
            run_id=msg.run_id,
            window_id=msg.window_id,
            uris=[landing.uri(p) for p in manifest["pages"]],
            content_hash=manifest["content_hash"],
        )
        load_ms = int((ctx.monotonic() - started) * 1000)
        crash_point("load.after_load_job", entity=msg.entity)
        merged = _merge_unless_twin_finished(entity, msg, staging, ctx)
        merge_ms = int((ctx.monotonic() - started) * 1000) - load_ms
        crash_point("load.after_merge", entity=msg.entity)
    ref = WindowRef(msg.entity, msg.window_id)
    ctx.state.window_event(
        run_id=msg.run_id,
        entity=msg.entity,
        window_id=msg.window_id,
        state="loaded",
        pages=len(manifest["pages"]),
        records=manifest["records"],
        rows_merged=merged,
        duration_ms=int((ctx.monotonic() - started) * 1000),
        detail={
            "rows_loaded": loaded,
            "reused_load_job": reused,
            "load_ms": load_ms,  # manifest read + load job (the benchmark's stages)
            "merge_ms": merge_ms,
        },
    )
    landing.write_json(
        Landing.loaded_name(msg.run_id, ref),
        {"records": manifest["records"], "rows_loaded": loaded, "rows_merged": merged},
    )
    crash_point("load.after_marker")
    if manifest["pages"] and manifest["records"]:
        ctx.warehouse.drop_staging(staging)  # the emulator ignores table expiration
    plan = _plan(msg.run_id, ctx)
    handed_off = hand_off(plan, msg, ctx)
    published = maybe_claim_rebuild(plan, ref, ctx)
    return LoadResult(loaded, merged, reused, published, handed_off)


def _plan(run_id: str, ctx: PipelineContext) -> RunPlan:
    doc = ctx.landing.read_json(Landing.plan_name(run_id))
    if doc is None:
        raise PermanentError(f"run {run_id} has no plan in the landing bucket")
    return RunPlan.from_manifest(doc)


def _merge_unless_twin_finished(
    entity: Entity, msg: LoadMessage, staging: str, ctx: PipelineContext
) -> int:
    """MERGE the staging table; 0 rows if a twin delivery already finished this window.

    Staging is dropped only after the loaded marker is written, and is named after the run
    and window, so a staging table that vanished under this MERGE while the window's
    marker exists means a twin delivery (Pub/Sub delivers at least once) MERGEd the same
    pages and finished: the window is loaded, and failing here would only cost a
    redelivery and a second load job. Without the marker the error stands and the
    redelivery loads again.
    """
    try:
        return ctx.warehouse.merge(
            entity, staging=staging, run_id=msg.run_id, window_id=msg.window_id
        )
    except NotFound:
        marker = Landing.loaded_name(msg.run_id, WindowRef(msg.entity, msg.window_id))
        if not ctx.landing.exists(marker):
            raise
        log.info(
            "staging table gone and window already loaded: a twin delivery finished it",
            extra={"run_id": msg.run_id, "entity": msg.entity, "window_id": msg.window_id},
        )
        return 0


def maybe_claim_rebuild(plan: RunPlan, me: WindowRef, ctx: PipelineContext) -> bool:
    """Publish the run's rebuild if every planned window is loaded and this loader holds
    (or just won) the claim. Returns whether a rebuild message was published."""
    landing = ctx.landing
    run_id = plan.run_id
    expected = {WindowRef(w.entity, w.window_id).marker for w in plan.windows}
    done = landing.loaded_windows(run_id)
    if not expected <= done:
        return False
    claim_name = Landing.claim_name(run_id)
    won = landing.create_json_once(claim_name, {"claimed_by": me.marker})
    if not won:
        holder = (landing.read_json(claim_name) or {}).get("claimed_by")
        if holder != me.marker:
            return False  # another loader owns the rebuild of this run
    crash_point("load.after_claim")
    ctx.bus.publish(
        ctx.settings.topic_rebuild, RebuildMessage(run_id=run_id, entities=plan.entities)
    )
    log.info(
        "run complete; rebuild published",
        extra={"run_id": run_id, "claimed_by": me.marker, "windows": len(expected)},
    )
    return True
