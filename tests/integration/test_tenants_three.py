"""Issue #33's first done-when: three simulated tenants in one local deployment, backfilled
and run daily side by side (one plan each, the same run ids, one pump), each tenant's KPIs
equal to a single-tenant run of the same tenant; and one tenant's credentials revoked
mid-run: the other two finish and rebuild with no RED check, the revoked one is RED with
the command that fixes it, and once fixed and replayed it finishes too.

The deployment's default tenant (1000) and two added ones (2000 in Los Angeles, 3000 in
Phoenix), each of its own seed; small scales, so the test stays within ``./dev test``'s
budget. A single-tenant run of a tenant is a deployment of its own whose default tenant it
is, fed the same plans at the same simulated instants.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from pipeline_harness import Pipeline, assert_raw_matches_simulator, in_process_pipeline, rebuilds

from stkpi import raw_ddl, secrets
from stkpi.config import Settings, with_values
from stkpi.deadletters import list_dead_letters, of_tenant, replay_dead_letters
from stkpi.kpi_config import load_kpi_config
from stkpi.landing import Landing
from stkpi.marts import build_marts
from stkpi.messages import PlanMessage
from stkpi.planner import RunPlan
from stkpi.registry import ENTITIES
from stkpi.secrets import SECRETS_DIR_ENV, SecretReader, directory_accessor
from stkpi.sqlfiles import statements
from stkpi.tenants import Tenant, secret_names
from stkpi.validation.result import GREEN, RED, CheckResult
from stkpi.validation.runner import run_validations
from stkpi.warehouse import ensure_datasets
from stkpi_tools.cli.validate import dead_letter_counter
from stkpi_tools.sim.config import HISTORY_START, TenantSpec
from stkpi_tools.tenant.add import add_tenant

pytestmark = pytest.mark.integration

SCALE = 0.001
DEFAULT = TenantSpec("1000", seed=42, scale=SCALE, time_zone="America/Phoenix")
ADDED = (
    TenantSpec("2000", seed=7, scale=SCALE, time_zone="America/Los_Angeles",
               display_name="Silver State Painting"),
    TenantSpec("3000", seed=11, scale=SCALE, time_zone="America/Phoenix",
               display_name="Old Pueblo Painting"),
)  # fmt: skip
REVOKED = "3000"
ENV = {"ST_PAGE_SIZE": "5000"}  # one page per window: what is tested here is not paging


def _plans(kind: str, end: dt.datetime) -> PlanMessage:
    if kind == "backfill":
        return PlanMessage(run_type="backfill", start=HISTORY_START, end=end, window_days=3000,
                           run_id="bf")  # fmt: skip
    return PlanMessage(run_type="daily", run_id="d1", end=end)


def _run(pipe: Pipeline, kind: str, tenants: Iterable[str | None], *, until: Any = None) -> None:
    """Publish the same plan for each tenant at once and deliver until each is rebuilt
    (or ``until()``)."""
    tenants = list(tenants)
    msg = _plans(kind, pipe.sim.now)
    for tenant in tenants:
        pipe.ctx.bus.publish(
            pipe.ctx.settings.topic_plan, msg.model_copy(update={"tenant_id": tenant})
        )
    landings = [pipe.ctx.for_tenant(t).landing for t in tenants]
    done = Landing.rebuild_done_name(msg.run_id)
    pipe.pump.run_until(until or (lambda: all(lg.exists(done) for lg in landings)), timeout=600)
    plan = landings[0].read_json(Landing.plan_name(msg.run_id))
    pipe.horizon.add(RunPlan.from_manifest(plan))  # how far raw is due (the same end for all)


def _kpis(pipe: Pipeline, settings: Settings) -> list[dict]:
    table = f"{settings.gcp_project}.{settings.dataset('mart')}.kpi_weekly"
    rows = pipe.ctx.bigquery.query_and_wait(f"SELECT * FROM `{table}`")
    return sorted((dict(r.items()) for r in rows), key=lambda r: json.dumps(r, default=str))


def _single_tenant_kpis(pipe: Pipeline, spec: TenantSpec) -> list[dict]:
    """The tenant's KPIs as a deployment serving it alone builds them: datasets of their
    own, the tenant as its default tenant (its id, time zone, the demo's BU map), its
    records (raw, compared with the simulator's by the caller) and the single-tenant
    rebuild's marts. Cheaper than a second pipeline run per tenant by the fetch and load,
    which the raw comparison stands for."""
    client, ctx = pipe.ctx.bigquery, pipe.ctx.for_tenant(spec.tenant_id)
    alone = with_values(pipe.ctx.settings, {"bq_dataset_prefix": f"alone{spec.tenant_id}",
                                             "report_timezone": spec.time_zone,
                                             "st_tenant_id": spec.tenant_id})  # fmt: skip
    ensure_datasets(client, alone)
    for entity in ENTITIES:
        for statement in statements(raw_ddl.render(entity, alone)):
            client.query_and_wait(statement)
        client.query_and_wait(
            f"INSERT INTO `{alone.gcp_project}.{alone.dataset('raw')}.{entity.name}` "
            f"SELECT * FROM `{alone.gcp_project}.{ctx.settings.dataset('raw')}.{entity.name}`"
        )
    # the demo's BU map (sql/seeds), which the local stack writes for every simulated tenant
    build_marts(client, alone, load_kpi_config(alone))
    return _kpis(pipe, alone)


def _validate(pipe: Pipeline, tenant: str | None) -> dict[str, CheckResult]:
    """The tenant's validations as `stkpi validate --tenant` runs them: counting its own
    dead letters only."""
    ctx = pipe.ctx.for_tenant(tenant)
    results = run_validations(
        ctx.bigquery, ctx.settings, now=ctx.tenant_now(), wall_now=ctx.now(), run_id="check",
        store=False, dead_letters=dead_letter_counter(ctx.settings, True, ctx),
    )  # fmt: skip
    return {r.name: r for r in results}


def test_three_tenants_run_side_by_side_each_as_if_alone_and_one_revoked_fails_alone(
    bq_emulator, gcs_emulator, pubsub_emulator, crash_file: Path
) -> None:
    secrets.forget()
    fields = {k: v for k, v in DEFAULT.fields().items() if k not in ("seed", "display_name")}
    env = {**ENV, "REPORT_TIMEZONE": DEFAULT.time_zone}
    with in_process_pipeline("three", seed=DEFAULT.seed, crash_file=crash_file, env=env,
                             tenants=ADDED, **fields) as pipe:  # fmt: skip
        settings, ctx = pipe.ctx.settings, pipe.ctx
        reader = SecretReader(directory_accessor(Path(os.environ[SECRETS_DIR_ENV])))
        for spec in ADDED:
            names = secret_names(settings.gcp_project, spec.tenant_id, "three-")
            tenant = Tenant(spec.tenant_id, spec.display_name, names, spec.time_zone)
            add_tenant(ctx.bigquery, settings, tenant, reader, at=dt.datetime.now(dt.UTC),
                       allow_warnings=True)  # fmt: skip
        everyone = [None, *(s.tenant_id for s in ADDED)]
        _run(pipe, "backfill", everyone)

        # The daily run, with tenant 3000's credentials revoked as it starts.
        pipe.sim.advance(24)
        pipe.sim.of(REVOKED).set_faults(credentials_revoked=True)
        others = [None, ADDED[0].tenant_id]
        done = Landing.rebuild_done_name("d1")
        others_done = [ctx.for_tenant(t).landing for t in others]
        _run(pipe, "daily", everyone, until=lambda: all(lg.exists(done) for lg in others_done))
        pipe.pump.run_until_idle(idle_seconds=2.0, timeout=120)
        assert not ctx.for_tenant(REVOKED).landing.exists(done)  # it failed alone
        for tenant in others:  # rebuilt once, every check GREEN: 3000's letters are not theirs
            assert rebuilds(pipe, "d1", tenant_id=tenant) == 1
            checks = _validate(pipe, tenant)
            assert {n: r.status for n, r in checks.items() if r.status != GREEN} == {}, tenant
        revoked = _validate(pipe, REVOKED)
        assert revoked["pipeline.failed_windows"].status == RED
        assert revoked["pipeline.dead_letters"].status == RED
        errors = " ".join(
            str(r["error"]) for r in revoked["pipeline.failed_windows"].numbers["rows"]
        )
        assert "ServiceTitan refused tenant 3000's credentials" in errors
        assert "stkpi dead-letters --replay --tenant 3000" in errors
        # Fixed (the credentials work again), its letters replayed: it finishes too.
        pipe.sim.of(REVOKED).set_faults(credentials_revoked=False)
        letters = list_dead_letters(settings, of_tenant(REVOKED, DEFAULT.tenant_id))
        assert {d.summary()["kind"] for d in letters} == {
            "credentials refused (replay once they are fixed)"
        }
        replayed, kept = replay_dead_letters(settings, select=of_tenant(REVOKED, DEFAULT.tenant_id))
        assert len(replayed) == len(letters) and kept == []
        revoked_landing = ctx.for_tenant(REVOKED).landing
        pipe.pump.run_until(lambda: revoked_landing.exists(done), timeout=300)
        assert rebuilds(pipe, "d1", tenant_id=REVOKED) == 1

        # Each tenant's copy is the simulator's, key for key; its KPIs are those of the
        # same records in a deployment of its own.
        for spec in (DEFAULT, *ADDED):
            tenant = None if spec is DEFAULT else spec.tenant_id
            assert_raw_matches_simulator(pipe, tenant_id=tenant)
            got = _kpis(pipe, ctx.for_tenant(tenant).settings)
            assert got and got == _single_tenant_kpis(pipe, spec), spec.tenant_id
