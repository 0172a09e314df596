"""Daily runs read ServiceTitan's export feeds (docs/EXPORTS.md), on the local emulators.

The pipeline's steps run in this process (``pipeline_harness``) over a small simulated
tenant whose exports answer 7 records at a time, so feeds have several answers. Tests run
in file order and share the tenant and the warehouse; each ends with raw equal to the
simulator, key for key.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_harness import Pipeline, assert_raw_matches_simulator, in_process_pipeline

from stkpi.context import PipelineContext
from stkpi.messages import PlanMessage
from stkpi.registry import TRANSACTIONAL
from stkpi.runwindows import stored_plan
from stkpi_tools.pump import InProcessPump
from stkpi_tools.sim.config import HISTORY_START

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pipe(bq_emulator, gcs_emulator, pubsub_emulator, crash_file: Path):
    with in_process_pipeline(
        "exp", seed=11, crash_file=crash_file, env={"ST_PAGE_SIZE": "50"},
        export_page_size=7,
    ) as pipe:  # fmt: skip
        yield pipe


def _tokens(pipe: Pipeline) -> dict[str, str]:
    return pipe.ctx.state.export_tokens()


def _plan(pipe: Pipeline, run_id: str):
    return stored_plan(run_id, pipe.ctx.landing)


def test_a_backfill_pages_lists_and_reads_the_bills_feed(pipe: Pipeline) -> None:
    pipe.run(PlanMessage(run_type="backfill", start=HISTORY_START, end=pipe.sim.now,
                         run_id="bf"))  # fmt: skip
    plan = _plan(pipe, "bf")
    assert {w.entity for w in plan.windows if w.export} == {"inventory_bills"}
    assert_raw_matches_simulator(pipe)
    # The bills' feed ended on a token, kept for their next export.
    assert set(_tokens(pipe)) == {"inventory_bills"}


def test_a_daily_run_reads_every_feed_and_captures_a_soft_delete(pipe: Pipeline) -> None:
    pipe.sim.advance(24)
    pipe.sim.edit("estimates", 4)
    estimates = pipe.sim.snapshot("estimates")
    gone = [e["id"] for e in estimates if e["status"]["name"] == "Sold"][:2]
    pipe.sim.deactivate("estimates", gone)  # ServiceTitan's soft delete
    pipe.run(PlanMessage(run_type="daily", run_id="d1"))
    plan = _plan(pipe, "d1")
    assert {w.entity for w in plan.windows if w.export} == set(TRANSACTIONAL)
    assert_raw_matches_simulator(pipe)
    # The deactivated estimates are in raw, inactive, the next morning (not a week later
    # by the key scan), and in no KPI.
    rows = pipe.ctx.bigquery.query_and_wait(
        f"SELECT id, active FROM `{_table(pipe, 'raw', 'estimates')}` "
        f"WHERE id IN ({', '.join(map(str, gone))})"
    )
    assert {r["id"]: r["active"] for r in rows} == dict.fromkeys(gone, False)
    dim = pipe.ctx.bigquery.query_and_wait(
        f"SELECT COUNT(*) AS n FROM `{_table(pipe, 'dim', 'dim_estimates')}` "
        f"WHERE estimate_id IN ({', '.join(map(str, gone))})"
    )
    assert next(iter(dim))["n"] == 0
    assert set(_tokens(pipe)) == set(TRANSACTIONAL)


def test_the_next_daily_run_continues_each_feed_where_the_last_ended(pipe: Pipeline) -> None:
    before = _tokens(pipe)
    requests_before = pipe.sim.stats()["requests"]
    pipe.sim.advance(24)
    pipe.sim.edit("jobs", 3)
    pipe.run(PlanMessage(run_type="daily", run_id="d2"))
    plan = _plan(pipe, "d2")
    started = {w.entity: w.continue_from for w in plan.windows if w.export}
    assert started == before  # from each stored token, not from a date again
    assert_raw_matches_simulator(pipe)
    # A day of changes on a small tenant: one answer per feed (plus the reference lists
    # and the run's own bookkeeping), not a re-read of a week (or 180 days) of records.
    feeds = len(started)
    assert pipe.sim.stats()["requests"] - requests_before < 3 * feeds


def test_an_export_near_its_time_budget_continues_from_its_token(pipe: Pipeline) -> None:
    pipe.sim.advance(24)
    pipe.sim.edit("appointments", 30)  # a feed of several answers of 7
    tight = pipe.ctx.settings.model_copy(update={"fetch_time_budget_seconds": 1e-6})
    ctx = PipelineContext(tight)
    pump = InProcessPump(ctx, pipe.pump.subscriptions, concurrency=3)
    try:
        Pipeline(ctx, pump, pipe.sim).run(PlanMessage(run_type="daily", run_id="d-budget"))
    finally:
        pump.close()
    states = {r["state"]: r["n"] for r in pipe.ctx.state.query_file(
        "ops/window_states.sql", run_id="d-budget")}  # fmt: skip
    assert states.get("continued", 0) >= 4  # 30 edits / 7 a page, each page a delivery
    assert_raw_matches_simulator(pipe)


def test_a_token_the_api_refuses_restarts_the_feed_from_the_mark(pipe: Pipeline) -> None:
    pipe.ctx.state.advance_sync_state(
        "forged", {"payments": pipe.ctx.state.high_water_marks()["payments"]},
        {"payments": "not-a-token-the-api-issued"},
    )  # fmt: skip
    pipe.sim.advance(24)
    pipe.sim.edit("payments", 3)
    pipe.run(PlanMessage(run_type="daily", run_id="d-forged"))
    assert_raw_matches_simulator(pipe)
    assert _tokens(pipe)["payments"] != "not-a-token-the-api-issued"


def _table(pipe: Pipeline, layer: str, name: str) -> str:
    settings = pipe.ctx.settings
    return f"{settings.gcp_project}.{settings.dataset(layer)}.{name}"
