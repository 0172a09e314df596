"""One MERGE per entity per run, once every window of the entity is staged.

Each window's load stages its pages in a table of its own (``stkpi.warehouse``); the
loader that sees the last of the entity's windows staged
claims the entity's MERGE (``merge/<entity>.claim``, created with
``if_generation_match=0``) and runs it. A backfill therefore issues one MERGE per entity,
whatever its window count: BigQuery runs at most 2 mutating DML statements per table at
once and queues 20 (docs/PERFORMANCE.md), and a MERGE per window queued behind each other
is what made the backfill's cost grow with windows instead of records.

Crash safety follows the rebuild claim (``stkpi.load``): the claim names a window, so any
delivery of that window's load (a redelivery after a crash, a twin) may run the MERGE,
which is idempotent; ``merged/<entity>.json`` is written after it, and the rebuild is
claimed only when every entity of the plan has one. Before merging, the staged row count
is checked against what the windows' loads reported: staging tables that expired or were
dropped under a stalled run fail loudly instead of merging a partial entity.

A key scan's run (``run_type="deletes"``) then compares the staged keys with raw before
the staging tables are dropped and the entity is marked merged (``stkpi.key_scan``).
"""

from __future__ import annotations

from stkpi import logs
from stkpi.context import PipelineContext
from stkpi.crashpoints import crash_point
from stkpi.errors import StkpiError
from stkpi.key_scan import apply_key_scan
from stkpi.landing import Landing, WindowRef
from stkpi.registry import get_entity
from stkpi.runwindows import RunWindows
from stkpi.splits import marker

log = logs.get(__name__)


class StagingIncompleteError(StkpiError):
    """The run's staging table holds fewer rows than its windows loaded into it."""


def merge_when_staged(
    run: RunWindows, entity_name: str, me: WindowRef, ctx: PipelineContext
) -> bool:
    """Run the entity's MERGE if all its windows are staged and this loader holds (or
    just won) the claim. Returns whether the entity is merged."""
    landing = ctx.landing
    leaves = run.leaves(entity_name)
    staged = landing.loaded_windows(run.run_id)
    if any(marker(w) not in staged for w in leaves):
        return False
    claim = Landing.merge_claim_name(run.run_id, entity_name)
    if not landing.create_json_once(claim, {"claimed_by": me.marker}):
        holder = (landing.read_json(claim) or {}).get("claimed_by")
        if holder != me.marker:
            return False  # another window's loader owns this MERGE
    done = Landing.merged_name(run.run_id, entity_name)
    if landing.exists(done):
        return True  # a redelivery after the MERGE finished
    crash_point("load.after_merge_claim", entity=entity_name)
    entity = get_entity(entity_name)
    loaded = {w.window_id: _rows_loaded(run.run_id, w.entity, w.window_id, landing) for w in leaves}
    windows = sorted(w for w, rows in loaded.items() if rows)  # empty windows stage nothing
    expected = sum(loaded.values())
    rows_staged = ctx.warehouse.staged_rows(entity, run.run_id, windows)
    if rows_staged < expected:
        raise StagingIncompleteError(
            f"{entity_name}: the staging tables of run {run.run_id} hold {rows_staged} rows "
            f"but its {len(windows)} windows loaded {expected}: they expired or were "
            "dropped while the run stalled; run the same range again (stkpi backfill)"
        )
    started = ctx.monotonic()
    rows = ctx.warehouse.merge(entity, run_id=run.run_id, window_ids=windows) if windows else 0
    crash_point("load.after_merge", entity=entity_name)
    if run.plan.run_type == "deletes":  # a key scan: compare keys while staging remains
        apply_key_scan(run, entity, windows, ctx)
    duration_ms = int((ctx.monotonic() - started) * 1000)
    ctx.state.run_event(
        run_id=run.run_id,
        state="entity_merged",
        entities=[entity_name],
        windows=len(leaves),
        records=rows,
        duration_ms=duration_ms,
        detail={"rows_staged": rows_staged, "claimed_by": me.marker},
    )
    landing.write_json(done, {"rows_merged": rows, "rows_staged": rows_staged})
    ctx.warehouse.drop_staging(entity, run.run_id, windows)  # the emulator ignores expiration
    log.info(
        "entity merged",
        extra={
            "run_id": run.run_id,
            "entity": entity_name,
            "windows": len(leaves),
            "rows_merged": rows,
            "merge_ms": duration_ms,
        },
    )
    return True


def all_merged(run: RunWindows, ctx: PipelineContext) -> bool:
    """Whether every entity of the run has its MERGE done."""
    done = ctx.landing.listing(Landing.merged_dir(run.run_id))
    return set(run.plan.entities) <= set(done)


def _rows_loaded(run_id: str, entity: str, window_id: str, landing: Landing) -> int:
    doc = landing.read_json(Landing.loaded_name(run_id, WindowRef(entity, window_id))) or {}
    return int(doc.get("rows_loaded", 0))
