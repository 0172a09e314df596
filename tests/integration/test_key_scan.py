"""The key scan (stkpi.key_scan) on the local emulators: records hard-deleted in the
simulator are marked deleted in raw, exactly; a key that reappears is undeleted; a scan
against an API that suddenly answers with half an entity marks nothing and turns
validation RED; a crash mid-scan (fetch, or between the decision and the mark) marks
nothing until the scan completes; the daily MERGE never clears a mark.

The steps run in this process fed by Pub/Sub pull subscriptions (``stkpi_tools.pump``), as in
test_pipeline_invariants. Tests share one tenant and warehouse and run in file order.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import pytest
from pipeline_harness import (
    Pipeline,
    assert_raw_matches_simulator,
    in_process_pipeline,
    rebuilds,
)

from stkpi.landing import Landing, WindowRef
from stkpi.messages import PlanMessage
from stkpi.planner import RunPlan
from stkpi.registry import DELETABLE
from stkpi.runwindows import RunWindows
from stkpi.status import collect_status
from stkpi.validation.result import RED
from stkpi.validation.runner import run_validations
from stkpi_tools.sim.config import HISTORY_START

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pipe(bq_emulator, gcs_emulator, pubsub_emulator, crash_file: Path):
    env = {"ST_PAGE_SIZE": "200"}
    with in_process_pipeline("ks", seed=11, crash_file=crash_file, env=env) as pipe:
        yield pipe


def _scan(pipe: Pipeline, run_id: str, **fields) -> PlanMessage:
    return PlanMessage(
        run_type="deletes", start=HISTORY_START, window_days=3660, run_id=run_id, **fields
    )


def _marked(pipe: Pipeline, entity: str) -> dict[int, datetime]:
    s = pipe.ctx.settings
    table = f"`{s.gcp_project}.{s.dataset('raw')}.{entity}`"
    rows = pipe.ctx.bigquery.query(
        f"SELECT id, deleted_at FROM {table} WHERE deleted_at IS NOT NULL"
    ).result()
    return {int(r["id"]): r["deleted_at"] for r in rows}


def _crash_consumed(crash_file: Path) -> bool:
    return not crash_file.read_text().strip()


def _scan_event(pipe: Pipeline, run_id: str, entity: str) -> dict:
    scans = {s["entity"]: s for s in collect_status(pipe.ctx)["scans"]}
    assert scans[entity]["run_id"] == run_id
    return scans[entity]


def test_scan_marks_exactly_the_records_deleted_in_servicetitan(
    pipe: Pipeline, crash_file: Path
) -> None:
    pipe.run(
        PlanMessage(
            run_type="backfill",
            entities=list(DELETABLE),
            start=HISTORY_START,
            end=pipe.sim.now,
            window_days=3660,
            run_id="ks-backfill",
        )
    )
    assert not any(_marked(pipe, e) for e in DELETABLE)
    sizes = pipe.sim.tenant.counts()
    # Under the 2% guard for each: 1% of estimates and appointments, one customer.
    gone = {
        "estimates": pipe.sim.delete("estimates", fraction=0.01),
        "appointments": pipe.sim.delete("appointments", fraction=0.01),
        "customers": pipe.sim.delete("customers", ids=[pipe.sim.snapshot("customers")[5]["id"]]),
    }
    assert all(gone.values()) and len(gone["customers"]) / sizes["customers"] < 0.02

    # A crash after the estimates' decision, before its mark: nothing marked yet.
    crash_file.write_text("scan.after_decision entity=estimates\n")
    requests_before = pipe.sim.stats()["requests"]
    msg = _scan(pipe, "ks-scan-1")
    pipe.ctx.bus.publish(pipe.ctx.settings.topic_plan, msg)
    pipe.pump.run_until(lambda: _crash_consumed(crash_file), timeout=600)
    assert _marked(pipe, "estimates") == {}
    decision = Landing.control_name("ks-scan-1", "scan", WindowRef("estimates", "decision"))
    assert pipe.ctx.landing.read_json(decision)["to_mark"] == len(gone["estimates"])

    done = Landing.rebuild_done_name("ks-scan-1")
    pipe.pump.run_until(lambda: pipe.ctx.landing.exists(done), timeout=600)
    # Cost: one request per page of keys, plus at most one part-full page per window
    # (docs/PERFORMANCE.md has the production figure: one request per 5,000 keys).
    requests = pipe.sim.stats()["requests"] - requests_before
    served = pipe.sim.tenant.counts()
    keys = sum(served[e] for e in DELETABLE)
    plan = RunPlan.from_manifest(pipe.ctx.landing.read_json(Landing.plan_name("ks-scan-1")))
    windows = len(RunWindows.read(plan, pipe.ctx.landing).windows())
    page = pipe.ctx.settings.st_page_size
    assert requests <= sum(math.ceil(served[e] / page) for e in DELETABLE) + windows, (
        requests, keys, windows)  # fmt: skip
    plan_end = RunPlan.from_manifest(pipe.ctx.landing.read_json(Landing.plan_name("ks-scan-1"))).end
    for entity in DELETABLE:
        marked = _marked(pipe, entity)
        assert sorted(marked) == sorted(gone.get(entity, [])), entity
        assert set(marked.values()) <= {plan_end}  # deleted_at = the scan's plan time
    # Live rows are exactly what the simulator still serves: nothing lost, nothing extra.
    assert_raw_matches_simulator(pipe, list(DELETABLE))
    assert rebuilds(pipe, "ks-scan-1") == 1
    event = _scan_event(pipe, "ks-scan-1", "estimates")
    assert (event["marked"], event["guarded"]) == (len(gone["estimates"]), False)

    checks = {
        r.name: r
        for r in run_validations(
            pipe.ctx.bigquery, pipe.ctx.settings, now=pipe.ctx.tenant_now(), store=False
        )
    }
    est = checks["deletes.estimates"]
    assert est.status == "GREEN" and sum(est.numbers["weeks"].values()) == len(gone["estimates"])
    assert checks["deletes.locations"].status == "GREEN"


def test_a_key_that_reappears_is_undeleted_and_a_partial_scan_marks_nothing(
    pipe: Pipeline, crash_file: Path
) -> None:
    before = _marked(pipe, "estimates")
    back = sorted(before)[:1]
    pipe.sim.restore("estimates", back)
    # A crash while the scan pages estimates: the entity is not staged, nothing changes.
    crash_file.write_text("fetch.after_page entity=estimates\n")
    pipe.ctx.bus.publish(pipe.ctx.settings.topic_plan, _scan(pipe, "ks-scan-2"))
    pipe.pump.run_until(lambda: _crash_consumed(crash_file), timeout=600)
    assert _marked(pipe, "estimates") == before

    done = Landing.rebuild_done_name("ks-scan-2")
    pipe.pump.run_until(lambda: pipe.ctx.landing.exists(done), timeout=600)
    after = _marked(pipe, "estimates")
    assert sorted(after) == sorted(set(before) - set(back))
    assert all(after[k] == before[k] for k in after)  # a mark keeps its first scan's time
    assert_raw_matches_simulator(pipe, list(DELETABLE))
    event = _scan_event(pipe, "ks-scan-2", "estimates")
    assert (event["marked"], event["to_unmark"]) == (0, 1)


def test_guard_an_api_answering_half_an_entity_marks_nothing_and_goes_red(
    pipe: Pipeline,
) -> None:
    before = {e: _marked(pipe, e) for e in DELETABLE}
    pipe.sim.set_faults(hide_fraction=0.5, hide_entity="estimates")
    try:
        pipe.run(_scan(pipe, "ks-scan-guard"))
    finally:
        pipe.sim.reset()
    assert {e: _marked(pipe, e) for e in DELETABLE} == before
    event = _scan_event(pipe, "ks-scan-guard", "estimates")
    assert event["guarded"] and event["marked"] == 0
    assert 0.45 < event["share"] < 0.55  # the hidden half, nothing else
    checks = {
        r.name: r
        for r in run_validations(
            pipe.ctx.bigquery, pipe.ctx.settings, now=pipe.ctx.tenant_now(), store=False
        )
    }
    red = checks["deletes.estimates"]
    assert red.status == RED
    assert "above the 2% guard; nothing was marked" in red.message
    assert "--allow-share" in red.message  # how the operator allows real deletes
    assert checks["deletes.payments"].status == "GREEN"  # the other entities scanned fine


def test_the_daily_merge_never_clears_a_mark_only_the_scan_does(pipe: Pipeline) -> None:
    marked = _marked(pipe, "estimates")
    key = sorted(marked)[0]
    # The record comes back edited: a daily run MERGEs its newer version into raw...
    pipe.sim.restore("estimates", [key])
    pipe.sim.tenant.edit("estimates", 1, among=_index_of(pipe, "estimates", key))
    pipe.sim.advance(1)
    pipe.run(PlanMessage(run_type="daily", entities=["estimates"], run_id="ks-daily"))
    assert _marked(pipe, "estimates")[key] == marked[key]  # ...and the mark stays
    # The next scan sees the key and undeletes it.
    pipe.run(_scan(pipe, "ks-scan-3", entities=["estimates"]))
    assert key not in _marked(pipe, "estimates")
    assert_raw_matches_simulator(pipe, ["estimates"])


def _index_of(pipe: Pipeline, entity: str, key: int):
    import numpy as np

    ids = pipe.sim.tenant.tables[entity].ids
    return np.flatnonzero(ids == key)
