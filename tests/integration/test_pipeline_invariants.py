"""DESIGN.md invariants 1-7 on the local emulators, with faults injected on purpose.

The four steps run in this process, fed by Pub/Sub pull subscriptions with the deployed
retry and dead-letter policies (``stkpi_tools.pump``). Every test ends by comparing the raw
tables with the simulator's records key for key. Tests share one simulated tenant and
warehouse and run in file order: each leaves raw equal to the simulator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pipeline_harness import (
    Pipeline,
    assert_raw_matches_simulator,
    in_process_pipeline,
    rebuilds,
)

from stkpi.context import PipelineContext
from stkpi.deadletters import count_dead_letters
from stkpi.entity_merge import StagingIncompleteError
from stkpi.landing import Landing, WindowRef, window_prefix
from stkpi.load import load_window
from stkpi.messages import LoadMessage, PlanMessage, WindowMessage
from stkpi.planner import RunPlan
from stkpi.registry import get_entity
from stkpi.runwindows import RunWindows
from stkpi_tools.pump import InProcessPump
from stkpi_tools.sim.config import HISTORY_START

pytestmark = pytest.mark.integration

CRASH_POINTS = (
    "plan.before_publish",
    "fetch.after_page",
    "fetch.after_pages",
    "fetch.before_publish",
    "load.after_load_job",
    "load.after_merge",
    "load.after_marker",
    "lanes.before_publish",  # a lane's hand-off claimed but not yet published
    "load.after_merge_claim",  # an entity's MERGE claimed but not run
    "load.after_claim",
    "rebuild.after_models",
)


@pytest.fixture(scope="module")
def pipe(bq_emulator, gcs_emulator, pubsub_emulator, crash_file: Path):
    # The tests below advance the simulator's clock a day at a time (three times).
    env = {
        "ST_PAGE_SIZE": "40",
        "WINDOW_DAYS": "60",
        # Windows above 2 pages of 40 split: every run here splits some of its windows.
        "WINDOW_TARGET_PAGES": "2",
    }
    with in_process_pipeline("inv", seed=7, crash_file=crash_file, env=env) as pipe:
        yield pipe


def _sim_now(pipe: Pipeline) -> datetime:
    return pipe.sim.now


# Records stamped exactly at the first backfill's end (the simulator's present): on the
# open end of its windows, so the next run's. Whether a tenant has such a record depends on
# the hour its clock shows (a visit started on the hour); these make every run of this
# module meet them.
AT_THE_END: dict[str, list[int]] = {}


def test_backfill_copies_the_tenant_key_for_key(pipe: Pipeline) -> None:
    AT_THE_END.update({e: pipe.sim.edit(e, 2) for e in ("jobs", "invoices")})
    run_id = pipe.run(
        PlanMessage(
            run_type="backfill",
            start=HISTORY_START,
            end=_sim_now(pipe),
            window_days=800,
            run_id="bf-first",
        )
    )
    assert_raw_matches_simulator(pipe)
    assert rebuilds(pipe, run_id) == 1
    # ... and those are not in raw yet, nor taken for lost: pending until the next run.
    pending = {c.entity: c.pending for c in pipe.compare(list(AT_THE_END))}
    assert all(pending[e] >= len(ids) for e, ids in AT_THE_END.items()), pending
    for entity, ids in AT_THE_END.items():
        assert not set(map(str, ids)) & raw_keys(pipe, entity)


def test_replayed_windows_change_nothing_and_do_not_rebuild_again(pipe: Pipeline) -> None:
    doc = pipe.ctx.landing.read_json(Landing.plan_name("bf-first"))
    plan = RunPlan.from_manifest(doc)
    for window in plan.windows:  # every window of the finished run, delivered again
        pipe.ctx.bus.publish(pipe.ctx.settings.topic_windows, window)
    pipe.pump.run_until_idle(idle_seconds=3)
    assert_raw_matches_simulator(pipe)
    assert rebuilds(pipe, "bf-first") == 1


def _load_message_of_a_full_window(pipe: Pipeline, run_id: str) -> LoadMessage:
    """The load message of a window of ``run_id`` that landed records (as fetch sent it)."""
    plan = RunPlan.from_manifest(pipe.ctx.landing.read_json(Landing.plan_name(run_id)))
    for w in RunWindows.read(plan, pipe.ctx.landing).leaves():
        prefix = window_prefix(w.entity, run_id, w.window_id)
        manifest = pipe.ctx.landing.read_json(Landing.manifest_name(prefix))
        if manifest and manifest["records"]:
            return LoadMessage(
                run_id=run_id,
                entity=w.entity,
                window_id=w.window_id,
                gcs_prefix=prefix,
                pages=len(manifest["pages"]),
                records=manifest["records"],
            )
    raise AssertionError(f"run {run_id} landed no records")


def raw_keys(pipe: Pipeline, entity: str) -> set[str]:
    table = get_entity(entity).raw_table
    key = get_entity(entity).key[0]
    sql = f"SELECT CAST({key} AS STRING) AS k FROM `{pipe.ctx.settings.gcp_project}.{pipe.ctx.settings.dataset('raw')}.{table}`"
    return {r["k"] for r in pipe.ctx.bigquery.query(sql).result()}


def raw_rows(pipe: Pipeline, entity: str) -> int:
    table = get_entity(entity).raw_table
    sql = f"SELECT COUNT(*) AS n FROM `{pipe.ctx.settings.gcp_project}.{pipe.ctx.settings.dataset('raw')}.{table}`"
    return int(next(iter(pipe.ctx.bigquery.query(sql).result()))["n"])


def test_a_duplicate_load_after_its_entity_merged_appends_nothing(pipe: Pipeline) -> None:
    msg = _load_message_of_a_full_window(pipe, "bf-first")
    result = load_window(msg, pipe.ctx)  # Pub/Sub delivered it again after the run ended
    assert result.rows_loaded == 0 and not result.rebuild_published
    staged = pipe.ctx.warehouse.staged_rows(get_entity(msg.entity), msg.run_id, [msg.window_id])
    assert staged == 0  # its staging table was dropped with the MERGE and not loaded again
    assert_raw_matches_simulator(pipe)
    assert rebuilds(pipe, "bf-first") == 1


def test_a_staging_table_that_vanished_before_its_merge_fails_loudly_and_merges_nothing(
    pipe: Pipeline, monkeypatch
) -> None:
    """Fault: a window's staging table is gone when its entity's MERGE is claimed (it
    expired while the run stalled). MERGEing what is left would drop records silently."""
    msg = _load_message_of_a_full_window(pipe, "bf-first")
    entity = get_entity(msg.entity)
    # As if the run had not merged this entity yet and this window were its last load.
    pipe.ctx.landing.delete(Landing.merged_name(msg.run_id, msg.entity))
    pipe.ctx.landing.delete(Landing.merge_claim_name(msg.run_id, msg.entity))
    pipe.ctx.landing.delete(Landing.loaded_name(msg.run_id, WindowRef(msg.entity, msg.window_id)))
    raw_before = raw_rows(pipe, msg.entity)

    def staging_expires(name: str, **context: object) -> None:
        if name == "load.after_merge_claim":
            pipe.ctx.warehouse.drop_staging(entity, msg.run_id, [msg.window_id])

    monkeypatch.setattr("stkpi.entity_merge.crash_point", staging_expires)
    with pytest.raises(StagingIncompleteError, match="stkpi backfill"):
        load_window(msg, pipe.ctx)
    assert not pipe.ctx.landing.exists(Landing.merged_name(msg.run_id, msg.entity))
    assert raw_rows(pipe, msg.entity) == raw_before
    assert rebuilds(pipe, "bf-first") == 1


def test_overlapping_windows_add_no_duplicates(pipe: Pipeline) -> None:
    run_id = pipe.run(
        PlanMessage(
            run_type="backfill",
            start=_sim_now(pipe) - timedelta(days=500),
            end=_sim_now(pipe),
            window_days=170,  # boundaries that cut across the first run's windows
            run_id="bf-overlap",
            entities=["jobs", "invoices", "estimates", "gross_pay_items"],
        )
    )
    assert_raw_matches_simulator(pipe)
    assert rebuilds(pipe, run_id) == 1


def test_a_crash_at_any_step_loses_nothing_and_rebuilds_once(
    pipe: Pipeline, crash_file: Path
) -> None:
    pipe.sim.advance(24)  # a day of new records and edits of old ones
    crash_file.write_text("".join(f"{p}\n" for p in CRASH_POINTS))
    nacked_before = sum(pipe.pump.stats.nacked.values())
    run_id = pipe.run(PlanMessage(run_type="daily", run_id="daily-crashes"))
    assert crash_file.read_text().strip() == "", "every armed crash point fired"
    # Each crash failed one delivery, which Pub/Sub redelivered.
    assert sum(pipe.pump.stats.nacked.values()) - nacked_before >= len(CRASH_POINTS)
    assert_raw_matches_simulator(pipe)
    assert rebuilds(pipe, run_id) == 1
    # One clock (stkpi.clock): the daily run was planned up to the simulator's present,
    # not the wall clock's, and the validations judged as of it.
    plan = RunPlan.from_manifest(pipe.ctx.landing.read_json(Landing.plan_name(run_id)))
    assert plan.end == _sim_now(pipe) == pipe.ctx.tenant_now()
    # The records stamped at the first backfill's end came with this, the next run (and
    # the comparison above held them due: this run's windows end after them).
    for entity, ids in AT_THE_END.items():
        assert set(map(str, ids)) <= raw_keys(pipe, entity), entity


def test_a_crash_right_after_a_window_recorded_its_split_loses_nothing(
    pipe: Pipeline, crash_file: Path
) -> None:
    # One coarse window per entity over the whole history: hundreds of jobs and invoices
    # against a target of 2 pages of 40, so both split; the first is killed (an exception
    # here) after recording its children and before handing them its lane.
    crash_file.write_text("fetch.after_split_record\n")
    run_id = pipe.run(
        PlanMessage(
            run_type="backfill",
            start=HISTORY_START,
            end=_sim_now(pipe),
            window_days=3660,
            run_id="bf-split-crash",
            entities=["jobs", "invoices"],
        )
    )
    assert crash_file.read_text().strip() == "", "the crash point fired"
    run = RunWindows.read(
        RunPlan.from_manifest(pipe.ctx.landing.read_json(Landing.plan_name(run_id))),
        pipe.ctx.landing,
    )
    assert len(run.plan.windows) == 2 and len(run.splits) >= 2
    # Every leaf loaded once; the split windows themselves never loaded anything.
    loaded = pipe.ctx.landing.loaded_windows(run_id)
    assert loaded == {f"{w.entity}/{w.window_id}" for w in run.leaves()}
    assert_raw_matches_simulator(pipe, ["jobs", "invoices"])
    assert rebuilds(pipe, run_id) == 1


def test_fetch_near_its_time_budget_continues_in_a_new_delivery(pipe: Pipeline) -> None:
    pipe.sim.advance(24)
    # A budget that is always spent after one page, and pages small enough that daily
    # windows have several: every fetch continues itself, page after page.
    tight = pipe.ctx.settings.model_copy(
        update={"fetch_time_budget_seconds": 1e-6, "st_page_size": 5}
    )
    ctx = PipelineContext(tight)
    pump = InProcessPump(ctx, pipe.pump.subscriptions, concurrency=3)
    try:
        hurried = Pipeline(ctx, pump, pipe.sim, pipe.horizon)
        run_id = hurried.run(PlanMessage(run_type="daily", run_id="daily-budget"))
    finally:
        pump.close()
    continued = pipe.ctx.state.query_file("ops/window_states.sql", run_id=run_id)
    states = {r["state"]: r["n"] for r in continued}
    assert states.get("continued", 0) > 0  # windows were split across deliveries
    assert_raw_matches_simulator(pipe)


def test_records_edited_while_paging_are_reread_or_caught_next_run(pipe: Pipeline) -> None:
    pipe.sim.advance(24)
    pipe.sim.set_faults(edit_after_page=1, edit_count=5, edit_entity="jobs")
    end = _sim_now(pipe)
    pipe.run(
        PlanMessage(
            run_type="backfill",
            start=HISTORY_START,
            end=end,
            window_days=2000,  # one big window, many pages: edits shift later pages
            window_target_pages=1000,  # ... that does not split
            run_id="bf-edits",
            entities=["jobs"],
        )
    )
    # Five records left the window while page 1 was being read, which shifted the rest
    # up: the fetch saw the window's count change and read it again.
    passes = pipe.ctx.state.query_file("ops/window_passes.sql", run_id="bf-edits")
    assert passes[0]["max_passes"] >= 2
    pipe.sim.set_faults(edit_after_page=None, edit_count=0, edit_entity=None)
    # The edited records left the backfill's window: their modifiedOn is the simulator's
    # present, the window's open end. As of the backfill's end raw holds every other job
    # at its version and these at their version before the edit: pending, not lost.
    (jobs,) = pipe.compare(["jobs"], until={"jobs": end})
    assert jobs.ok and jobs.pending >= 5, jobs.describe()
    # The next morning's daily run covers them.
    pipe.sim.advance(24)
    pipe.run(PlanMessage(run_type="daily", run_id="daily-after-edits"))
    assert_raw_matches_simulator(pipe)


def test_messages_that_can_never_succeed_are_dead_lettered(pipe: Pipeline) -> None:
    count_dead_letters(pipe.ctx.settings, ack=True)  # start from an empty dead-letter queue
    topic = pipe.ctx.settings.topic_windows
    pipe.ctx.bus.publish_raw(topic, b"{not json")
    pipe.ctx.bus.publish_raw(
        topic,
        b'{"v":1,"run_id":"r","entity":"jobz","window_id":"w",'
        b'"start":"2025-01-01T00:00:00Z","end":"2025-01-02T00:00:00Z"}',
    )
    reversed_window = WindowMessage.model_construct(
        v=1,
        run_id="r",
        entity="jobs",
        window_id="w",
        start=datetime(2025, 1, 2, tzinfo=UTC),
        end=datetime(2025, 1, 1, tzinfo=UTC),
        page_from=1,
        pass_no=1,
        pass_count=None,
        page_offset=0,
    )
    pipe.ctx.bus.publish_raw(topic, reversed_window.model_dump_json().encode())
    pipe.pump.run_until_idle(idle_seconds=3)
    dead = count_dead_letters(pipe.ctx.settings, ack=True)
    assert dead[topic] == 3
