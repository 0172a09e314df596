"""A tenant whose business units and reports are not the simulator's demo data gets its own
maps from the tenant (``stkpi tenant init``), and GREEN KPIs, with nothing in sql/seeds.

The simulated tenant here is tenant 2000 (its reports have other ids than tenant 1000's
in sql/seeds/report_map.csv) with other business-unit names: "Commercial Crew" has
neither a -Sales nor a -Production suffix, so no rule can place it. The deployment starts
with no map at all, as a fresh one does: the first rebuild maps units by their names and
the validation says what is missing; `tenant init` reads the tenant, the operator maps
the one unit init cannot, and the next rebuild reports every unit where it belongs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_harness import Pipeline, in_process_pipeline

from stkpi.messages import PlanMessage
from stkpi.tenant_maps import read_bu_map, read_report_map, write_bu_map
from stkpi.validation.runner import run_validations
from stkpi_tools.sim.config import HISTORY_START
from stkpi_tools.tenant.init import init_tenant

pytestmark = pytest.mark.integration

# One name per catalog business unit, in its order (roles and volumes stay the catalog's).
OTHER_BUS = (
    "Mesa-Sales", "Mesa-Production", "Yuma-Sales", "Yuma-Production", "Reno-Sales",
    "Reno-Production", "Commercial Crew", "Cabinet Shop-Production",
    "Warranty Desk-Production", "Sedona-Sales", "Sedona-Production",
)  # fmt: skip


@pytest.fixture(scope="module")
def pipe(bq_emulator, gcs_emulator, pubsub_emulator, crash_file: Path):
    # one page per window (ServiceTitan's largest): what is tested here is not paging
    env = {"ST_PAGE_SIZE": "5000"}
    with in_process_pipeline(
        "tnt", seed=5, crash_file=crash_file, env=env, simulated_maps=False,
        tenant_id="2000", bu_names=OTHER_BUS,
    ) as pipe:  # fmt: skip
        yield pipe


def _checks(pipe: Pipeline) -> dict[str, object]:
    results = run_validations(
        pipe.ctx.bigquery, pipe.ctx.settings, now=pipe.ctx.tenant_now(), store=False
    )
    return {r.name: r for r in results}


def _bus_reported(pipe: Pipeline) -> set[str]:
    mart = f"{pipe.ctx.settings.gcp_project}.{pipe.ctx.settings.dataset('mart')}"
    rows = pipe.ctx.bigquery.query_and_wait(f"SELECT DISTINCT bu FROM `{mart}.kpi_weekly`")
    return {r["bu"] for r in rows}


def test_a_fresh_deployment_has_no_map_and_says_so(pipe: Pipeline) -> None:
    pipe.run(PlanMessage(run_type="backfill", start=HISTORY_START, end=pipe.sim.now,
                         window_days=3000, run_id="tnt-backfill"))  # fmt: skip
    assert read_bu_map(pipe.ctx.bigquery, pipe.ctx.settings, "2000") is None
    checks = _checks(pipe)
    assert checks["kpi.bu_map"].status == "YELLOW"
    assert "stkpi tenant init" in checks["kpi.bu_map"].next_step
    # no report map: never reconciled, and that is not GREEN
    assert checks["reconciliation.servicetitan"].status == "YELLOW"
    # the suffix rule places the others; Commercial Crew's jobs fall in 'unmapped'
    bus = _bus_reported(pipe)
    assert {"Mesa-Sales", "Reno-Production", "unmapped"} <= bus


def test_tenant_init_reads_the_tenants_units_and_reports(pipe: Pipeline) -> None:
    got = init_tenant(pipe.ctx)
    assert got.tenant_id == "2000"
    assert got.unmapped == ["Commercial Crew"]  # the one unit no rule can place
    assert got.kpis_without_reports == []  # tenant 2000's own report ids
    bus = {b.bu_name: b for b in read_bu_map(pipe.ctx.bigquery, pipe.ctx.settings, "2000")}
    assert (bus["Yuma-Production"].role, bus["Yuma-Production"].region) == ("Production", "Yuma")
    assert not bus["Commercial Crew"].mapped
    reports = read_report_map(pipe.ctx.bigquery, pipe.ctx.settings, "2000")
    assert len(reports) == 10 and all(r.tenant_id == "2000" for r in reports)
    check = _checks(pipe)["kpi.bu_map"]
    assert check.status == "YELLOW" and "Commercial Crew" in check.message
    assert 'stkpi tenant map-bu --name "Commercial Crew"' in check.next_step


def test_once_mapped_every_unit_reports_where_it_belongs(pipe: Pipeline) -> None:
    # what `stkpi tenant map-bu --name "Commercial Crew" --role Production --region MES
    # --as Commercial` writes: the map with that one row set
    bus = list(read_bu_map(pipe.ctx.bigquery, pipe.ctx.settings, "2000"))
    bus = [b if b.bu_name != "Commercial Crew" else
           type(b)(b.bu_name, b.bu_id, "Commercial", "Production", "MES", b.active)
           for b in bus]  # fmt: skip
    write_bu_map(pipe.ctx.bigquery, pipe.ctx.settings, "2000", bus, source="mapped",
                 at=pipe.ctx.now())  # fmt: skip
    pipe.sim.advance(hours=24)
    pipe.run(PlanMessage(run_type="daily", run_id="tnt-daily"))
    reported = _bus_reported(pipe)
    assert "Commercial" in reported and "unmapped" not in reported
    checks = _checks(pipe)
    not_green = {n: (r.status, r.message) for n, r in checks.items()
                 if n.startswith(("kpi.", "join.jobs_business_units")) and r.status != "GREEN"}  # fmt: skip
    assert not not_green, not_green
    assert checks["reconciliation.servicetitan"].status != "RED"
