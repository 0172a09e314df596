"""Two deployments in one project, side by side: terraform's ``name_prefix`` names all of
each (topics, subscriptions, functions, service accounts, secrets, datasets, bucket), so
they share no name, and each runs end to end on the same emulators without touching the
other's data. (tests/terraform/test_deploy_graph.py holds every project-unique name of
terraform/ to the prefix; this runs two of them.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pipeline_harness import (
    Pipeline,
    assert_raw_matches_simulator,
    in_process_pipeline,
    rebuilds,
)

from stkpi.messages import PlanMessage
from stkpi_tools.localstack import DEFAULT_PROJECT
from stkpi_tools.localstack.settings_env import local_topology
from stkpi_tools.sim.config import HISTORY_START
from stkpi_tools.terraform.topology import Topology

pytestmark = pytest.mark.integration


def _names(topo: Topology) -> set[str]:
    """Every name of a deployment that another in the same project could collide with."""
    names = {*topo.topics, *topo.subscriptions, topo.bucket, *topo.datasets.values()}
    for fn in topo.functions.values():
        names |= {fn.name, fn.service_account}
        names |= set(json.loads(fn.env.get("ST_SECRETS", "{}")).values())
    return names


def _backfill(pipe: Pipeline, run_id: str) -> None:
    pipe.run(PlanMessage(run_type="backfill", start=HISTORY_START, end=pipe.sim.now,
                         window_days=3000, run_id=run_id))  # fmt: skip
    assert rebuilds(pipe, run_id) == 1


def test_two_prefixes_share_no_name_and_both_run_end_to_end(
    bq_emulator, gcs_emulator, pubsub_emulator, crash_file: Path
) -> None:
    a_names, b_names = (
        _names(local_topology(DEFAULT_PROJECT, {"name_prefix": p})) for p in ("dpa-", "dpb-")
    )
    assert not a_names & b_names, sorted(a_names & b_names)
    # one page per window (ServiceTitan's largest): what is tested here is not paging
    env = {"ST_PAGE_SIZE": "5000"}
    with (
        in_process_pipeline("dpa", seed=7, crash_file=crash_file, env=env) as a,
        in_process_pipeline("dpb", seed=11, crash_file=crash_file, env=env) as b,
    ):
        assert a.ctx.settings.dataset("raw") == "dpa_st_raw"
        assert b.ctx.settings.landing_bucket == f"{DEFAULT_PROJECT}-dpb-st-landing"
        _backfill(a, "two-a")
        assert_raw_matches_simulator(a)
        _backfill(b, "two-b")  # the same run shape, in the other deployment
        assert_raw_matches_simulator(a)  # b's run left a's warehouse as it was
        assert_raw_matches_simulator(b)
