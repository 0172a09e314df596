"""Daily runs read ServiceTitan's export feeds (docs/EXPORTS.md), on the local emulators.

The pipeline's steps run in this process (``pipeline_harness``) over a small simulated
tenant whose exports answer 7 records at a time, so feeds have several answers. Tests run
in file order and share the tenant and the warehouse; each ends with raw equal to the
simulator, key for key.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pipeline_harness import Pipeline, assert_raw_matches_simulator, in_process_pipeline

from stkpi.context import PipelineContext
from stkpi.messages import PlanMessage
from stkpi.quarantine import open_records
from stkpi.registry import TRANSACTIONAL
from stkpi.runwindows import stored_plan
from stkpi.validation.config import ValidationConfig
from stkpi.validation.context import Context
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
    # A payment edited today that BigQuery cannot hold (a lone surrogate): quarantined,
    # not fatal, in a feed as in a list (stkpi.quarantine).
    (bad,) = pipe.sim.edit("payments", 1)
    pipe.sim.set_faults(bad_records=[f"payments/{bad}/surrogate"])
    try:
        pipe.run(PlanMessage(run_type="daily", run_id="d1"))
    finally:
        pipe.sim.set_faults(bad_records=[])
    plan = _plan(pipe, "d1")
    assert {w.entity for w in plan.windows if w.export} == set(TRANSACTIONAL)
    assert_raw_matches_simulator(pipe, [e for e in TRANSACTIONAL if e != "payments"])
    ctx = pipe.ctx
    query = Context(ctx.bigquery, ctx.settings, ctx.now(), ValidationConfig()).query
    assert [(r.entity, r.record_key) for r in open_records(query, ctx.now())] == [
        ("payments", str(bad))
    ]
    # Fixed in ServiceTitan (an edit): the next feed brings it (test below).
    pipe.sim.tenant.edit("payments", 1, among=_index_of(pipe, "payments", bad))
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


def test_the_next_daily_run_continues_each_feed_from_its_token_across_deliveries(
    pipe: Pipeline,
) -> None:
    """One run, three proofs: each feed starts from the token the last run ended on (not a
    date again); a feed near the fetch's time budget continues in a new delivery from the
    token it reached; a token the API refuses (payments') restarts that feed from the
    window's start date. Raw equals the simulator after all of it."""
    before = _tokens(pipe)
    pipe.ctx.state.advance_sync_state(
        "forged", {"payments": pipe.ctx.state.high_water_marks()["payments"]},
        {"payments": "not-a-token-the-api-issued"},
    )  # fmt: skip
    pipe.sim.advance(24)
    pipe.sim.edit("appointments", 30)  # a feed of several answers of 7
    pipe.sim.edit("payments", 3)
    requests_before = pipe.sim.stats()["requests"]
    tight = pipe.ctx.settings.model_copy(update={"fetch_time_budget_seconds": 1e-6})
    ctx = PipelineContext(tight)
    pump = InProcessPump(ctx, pipe.pump.subscriptions, concurrency=3)
    try:
        Pipeline(ctx, pump, pipe.sim).run(PlanMessage(run_type="daily", run_id="d2"))
    finally:
        pump.close()
    started = {w.entity: w.continue_from for w in _plan(pipe, "d2").windows if w.export}
    assert started == {**before, "payments": "not-a-token-the-api-issued"}
    states = {r["state"]: r["n"] for r in pipe.ctx.state.query_file(
        "ops/window_states.sql", run_id="d2")}  # fmt: skip
    assert states.get("continued", 0) >= 4  # 30 edits / 7 an answer, each its own delivery
    assert_raw_matches_simulator(pipe)
    assert _tokens(pipe)["payments"] != "not-a-token-the-api-issued"
    # A day of changes: a few answers per feed (plus the reference lists, re-read whole,
    # and the appointments' 30 edits), not a re-read of a week (estimates: 180 days).
    assert pipe.sim.stats()["requests"] - requests_before < 4 * len(started)


def _index_of(pipe: Pipeline, entity: str, record_id: int) -> np.ndarray:
    ids = pipe.sim.tenant.tables[entity].ids
    return np.flatnonzero(ids == record_id)


def _table(pipe: Pipeline, layer: str, name: str) -> str:
    settings = pipe.ctx.settings
    return f"{settings.gcp_project}.{settings.dataset(layer)}.{name}"
