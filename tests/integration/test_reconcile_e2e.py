"""End to end: the deployed pipeline reconciles with ServiceTitan's Reporting API after every
rebuild, within its limit (the same report once a minute per tenant).

A stack of its own (the session's emulators, its own topics, datasets and bucket, and a
simulator whose clock is a day behind the wall clock, as in the demo) runs a backfill and
two daily increments through the function servers; the rebuild_dims server (its service
account, its secrets, the IAM gate) stores each run's reconciliation. Then the CLI runs as
the operator. The simulator counts every refused report call: zero expected.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from stkpi.config import load_settings
from stkpi.context import PipelineContext
from stkpi.messages import PlanMessage
from stkpi_tools.localstack import Stack, StackInfo
from stkpi_tools.localstack.process import pgid_alive, tcp_open
from stkpi_tools.runs import publish_plan, wait_for_run
from stkpi_tools.sim.admin import SimAdmin
from stkpi_tools.sim.config import DEFAULT_NOW, HISTORY_START

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

VARIABLES = {"name_prefix": "rec-", "bq_dataset_prefix": "rece2e",
             "landing_bucket_name": "rec-landing"}  # fmt: skip


@pytest.fixture(scope="module")
def sim_now() -> datetime:
    """The simulator's clock, the pipeline's "now" (stkpi.clock): fixed, so the tenant and
    its reconciliation are the same at any hour."""
    return DEFAULT_NOW


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory, sim_now: datetime) -> Iterator[StackInfo]:
    """The deployment on the session's emulators: simulator, four function servers."""
    reuse = {name: request.getfixturevalue(f"{fx}_emulator").service
             for name, fx in (("gcs", "gcs"), ("bigquery", "bq"), ("pubsub", "pubsub"))}  # fmt: skip
    stack = Stack(
        tmp_path_factory.mktemp("rec_stack"),
        reuse=reuse,
        sim_args={"scale": 0.002, "seed": 11, "now": sim_now.isoformat()},
        tf_variables=VARIABLES,
    )
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def runs(stack: StackInfo, sim_now: datetime):
    """A backfill and two daily runs through the function servers, then the CLI as the
    operator: what they stored and printed, and the simulator's report counters."""
    ctx = PipelineContext(load_settings(stack.admin_env()))
    admin = SimAdmin(stack.url("simulator"))
    publish_plan(ctx, PlanMessage(run_type="backfill", start=HISTORY_START, end=sim_now,
                                  window_days=3650, run_id="rec-backfill"))  # fmt: skip
    wait_for_run(ctx, "rec-backfill", timeout=900, show=False)
    admin.advance(24)
    publish_plan(ctx, PlanMessage(run_type="daily", run_id="rec-daily"))
    wait_for_run(ctx, "rec-daily", timeout=900, show=False)
    # a second daily run within the minute: its rebuild defers, it does not call again
    publish_plan(ctx, PlanMessage(run_type="daily", run_id="rec-daily-2"))
    wait_for_run(ctx, "rec-daily-2", timeout=900, show=False)
    ops = f"{ctx.settings.gcp_project}.{ctx.settings.dataset('ops')}"
    rows = [dict(r.items()) for r in ctx.bigquery.query(
        f"SELECT * FROM `{ops}.reconciliation` ORDER BY run_id, kpi, bu, week_start").result()]  # fmt: skip
    after_runs = admin.stats()
    cli = subprocess.run(
        [sys.executable, "-m", "stkpi_tools.cli", "reconcile", "--json"],
        env={**os.environ, **stack.env()}, cwd=Path(stack.root), capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    table = subprocess.run(
        [sys.executable, "-m", "stkpi_tools.cli", "reconcile", "--no-save"],
        env={**os.environ, **stack.env(), "COLUMNS": "200"}, cwd=Path(stack.root),
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return rows, after_runs, cli, admin.stats(), table


def test_every_rebuild_stores_its_reconciliation(runs) -> None:
    rows = runs[0]
    # daily runs reconcile (a backfill does not); the second daily, within the minute of
    # the first's report calls, deferred instead of calling the reports again
    assert {r["run_id"] for r in rows} == {"rec-daily"}
    kpis = {r["kpi"] for r in rows}
    assert kpis == {"leads", "estimates", "total_booked", "produced", "collected"}
    # the same data on both sides: every difference is ServiceTitan's own definitions
    bad = [
        (r["run_id"], r["kpi"], r["bu"], r["records"]) for r in rows if r["status"] == "unexplained"
    ]
    assert not bad


def test_the_reporting_limit_is_never_exceeded(runs) -> None:
    _, after_runs, cli, final, _ = runs
    calls = {k: v for k, v in after_runs["counters"].items() if k.startswith("report_calls_")}
    # 6 reports (an aggregate + 5 row-level), each called once, by the first daily rebuild
    assert sorted(calls.values()) == [1] * 6
    assert after_runs["report_throttled_429"] == 0
    assert cli.returncode == 0, cli.stderr[-2000:]
    doc = json.loads(cli.stdout)
    assert doc["report_calls"] + doc["reports_reused"] == 6
    assert final["report_throttled_429"] == 0


def test_the_cli_prints_the_table_and_the_records_behind_each_difference(runs) -> None:
    table = runs[4]
    assert table.returncode == 0, table.stderr[-2000:]
    assert "Reconciliation with ServiceTitan, weeks" in table.stdout
    for kpi in ("leads", "estimates", "total_booked", "produced", "collected"):
        assert kpi in table.stdout
    # every cell that differs is followed by its records (explained ones name their rule)
    doc_cells = [c for c in json.loads(runs[2].stdout)["cells"] if c["status"] != "match"]
    for c in doc_cells:
        assert f"{c['kpi']} {c['bu']} week of {c['week_start']}: {c['status']}" in table.stdout
    assert "Traceback" not in table.stdout + table.stderr


def test_after_the_runs_every_service_of_the_deployment_is_still_up(stack: StackInfo, runs) -> None:
    names = {"simulator", "fn-plan_windows", "fn-fetch_window", "fn-load_batch", "fn-rebuild_dims"}
    assert names <= set(stack.owned)
    for name, pid in stack.pids.items():
        assert pgid_alive(pid), name
        assert tcp_open(stack.ports[name]), name
    settings = load_settings(stack.env())
    settings.require_servicetitan()
    assert settings.st_api_base_url == stack.url("simulator")
    assert StackInfo.load(stack.root).pids == stack.pids
