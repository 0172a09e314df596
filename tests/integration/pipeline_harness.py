"""A pipeline on the local emulators, driven in-process, and the checks tests make of it.

Raw tables are compared with the simulator's own records, key for key: the simulator is
the source of truth, not an expected number written in a test. The comparison is due up to
the end of the runs the pipeline made (``CopyHorizon``): a record the simulator stamped at
or after it is the next run's, not a loss (stkpi_tools.chaos.compare).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stkpi.config import load_settings
from stkpi.context import PipelineContext
from stkpi.gcp import storage_client
from stkpi.landing import Landing
from stkpi.messages import PlanMessage
from stkpi.planner import RunPlan
from stkpi.registry import get_entity
from stkpi.rows import to_row
from stkpi.secrets import SECRETS_DIR_ENV
from stkpi.warehouse import ensure_tables
from stkpi.windows import parse_ts
from stkpi_tools.chaos.compare import CopyHorizon, EntityComparison, compare_raw
from stkpi_tools.localstack import DEFAULT_PROJECT, Stack, StackInfo
from stkpi_tools.localstack.process import Service
from stkpi_tools.localstack.settings_env import local_settings_env, local_topology
from stkpi_tools.localstack.tenants import add_command, write_tenant_secrets
from stkpi_tools.localstack.wiring import wire
from stkpi_tools.pump import InProcessPump
from stkpi_tools.sim.admin import SimAdmin
from stkpi_tools.sim.config import DEFAULT_NOW, SimConfig, TenantSpec
from stkpi_tools.sim.server import running_simulator
from stkpi_tools.tenant.simulated import write_simulated_maps


@dataclass
class Pipeline:
    ctx: PipelineContext
    pump: InProcessPump
    sim: Any  # stkpi_tools.sim handle
    horizon: CopyHorizon = field(default_factory=CopyHorizon)  # how far raw is due

    def run(self, msg: PlanMessage, *, timeout: float = 600.0) -> str:
        """Publish ``msg`` to the plan topic, as the scheduler or the CLI does, and deliver
        messages until its run is rebuilt; returns the run id."""
        assert msg.run_id, "tests name their runs"
        self.ctx.bus.publish(self.ctx.settings.topic_plan, msg)
        landing = self.ctx.for_tenant(msg.tenant_id).landing  # the run's tenant's objects
        done = Landing.rebuild_done_name(msg.run_id)
        self.pump.run_until(lambda: landing.exists(done), timeout=timeout)
        plan = RunPlan.from_manifest(landing.read_json(Landing.plan_name(msg.run_id)))
        # The horizon is the end the test asked for, never one the planner chose instead
        # (a plan ending early would excuse what it left out).
        assert msg.end is None or plan.end == msg.end, (plan.end, msg.end)
        self.horizon.add(plan)
        return msg.run_id

    def compare(
        self,
        entities: list[str] | None = None,
        until: Mapping[str, datetime] | None = None,
        *,
        tenant_id: str | None = None,
    ) -> list[EntityComparison]:
        """Raw (of ``tenant_id``: default, the deployment's tenant) against the simulator,
        due up to the end of the runs made so far (or ``until``, per entity: as of one
        run's end)."""
        ends = self.horizon.ends if until is None else until
        settings = self.ctx.for_tenant(tenant_id).settings
        return compare_raw(self.ctx.bigquery, settings, self.sim_of(tenant_id).versions,
                           entities, ends)  # fmt: skip

    def sim_of(self, tenant_id: str | None = None) -> Any:
        """The simulator's handle of ``tenant_id`` when it serves it (several tenants:
        ``in_process_pipeline(tenants=...)``), else its primary's."""
        if tenant_id is not None and tenant_id in self.sim.tenant_ids:
            return self.sim.of(tenant_id)
        return self.sim


@contextmanager
def in_process_pipeline(
    prefix: str,
    *,
    seed: int,
    crash_file: Path,
    env: Mapping[str, str],
    simulated_maps: bool = True,
    **sim_options: Any,
) -> Iterator[Pipeline]:
    """A deployment of its own (terraform's ``name_prefix``: topics, datasets, bucket) on the
    session's emulators, its steps run in this process, over a small simulated tenant.

    The simulator's clock is fixed (``DEFAULT_NOW``) and is the pipeline's "now"
    (stkpi.clock: a daily plan ends at its hour), so the tenant and every verdict are the
    same at any hour of the day. ``crash_file`` arms the crash points
    (``STKPI_CRASH_FILE``); ``env`` adds or overrides the pipeline's settings (page size,
    window sizing); ``sim_options`` the simulator's (``SimConfig``). The tenant's maps are
    the demo's (``sql/seeds``), as a local stack writes them, unless ``simulated_maps`` is
    false (a tenant with none yet). With ``tenants=(TenantSpec(...), ...)`` the simulator
    serves those too: their secrets are written to a directory ``ST_SECRETS_DIR`` names
    (as the local stack does) and their maps too; registering them is the test's."""
    mp = pytest.MonkeyPatch()
    mp.setenv("STKPI_CRASH_FILE", str(crash_file))
    config = SimConfig(
        **{"scale": 0.002, "seed": seed, "now": DEFAULT_NOW, "rate_limit_per_second": 1000,
           **sim_options}
    )  # fmt: skip
    with running_simulator(config) as sim:
        variables = {
            # the deployment's prefix names everything of it: topics, subscriptions,
            # datasets (<prefix>_st_*), the landing bucket (<project>-<prefix>-st-landing)
            "name_prefix": f"{prefix}-",
            "retry_minimum_backoff_seconds": 0.5,
            "retry_maximum_backoff_seconds": 2,
        }
        settings = load_settings(
            {
                **local_settings_env(
                    DEFAULT_PROJECT, st_base_url=sim.base_url, variables=variables
                ),
                **sim.env(),
                "ST_RATE_LIMIT_PER_SECOND": "500",
                **env,
            }
        )
        storage = storage_client(settings)
        if storage.lookup_bucket(settings.landing_bucket) is None:
            storage.create_bucket(settings.landing_bucket)
        ctx = PipelineContext(settings)
        ensure_tables(ctx.bigquery, settings)
        if simulated_maps:
            write_simulated_maps(ctx.bigquery, settings, str(settings.st_tenant_id))
        if config.tenants:  # the added tenants' secrets, where the pipeline reads them
            secrets = crash_file.parent / f"{prefix}-secrets"
            name_prefix = variables["name_prefix"]
            write_tenant_secrets(secrets, DEFAULT_PROJECT, name_prefix, _added(sim))
            mp.setenv(SECRETS_DIR_ENV, str(secrets))
            for spec in config.tenants:
                if simulated_maps and not spec.bu_names:
                    write_simulated_maps(ctx.bigquery, settings, spec.tenant_id, added=True)
        subs = wire(local_topology(DEFAULT_PROJECT, variables), mode="pull")
        pump = InProcessPump(ctx, {fn: d["subscription"] for fn, d in subs.items()}, concurrency=3)
        try:
            yield Pipeline(ctx, pump, sim)
        finally:
            pump.close()
            mp.undo()


def warehouse_context(bq_emulator: Any, gcs_emulator: Any, prefix: str) -> PipelineContext:
    """A pipeline context on the session's BigQuery and Cloud Storage emulators with
    datasets and a bucket of its own (``prefix``), its tables made; no simulator, no
    Pub/Sub: for tests that stage rows by hand and call a step's library function."""
    env = {**local_settings_env(DEFAULT_PROJECT), **bq_emulator.service.env()}
    env.update(gcs_emulator.service.env())
    env.update({"BQ_DATASET_PREFIX": prefix, "LANDING_BUCKET": f"{prefix}-landing"})
    ctx = PipelineContext(load_settings(env))
    storage = storage_client(ctx.settings)
    if storage.lookup_bucket(ctx.settings.landing_bucket) is None:
        storage.create_bucket(ctx.settings.landing_bucket)
    ensure_tables(ctx.bigquery, ctx.settings)
    return ctx


def stage_records(
    ctx: PipelineContext, entity_name: str, run_id: str, windows: list[list[dict]]
) -> list[str]:
    """Stage ``windows`` of API records as the loader does (one staging table each, rows
    as the fetch writes them); their window ids."""
    from google.cloud import bigquery

    from stkpi.warehouse import raw_schema, staging_table_id

    entity = get_entity(entity_name)
    ids = []
    for n, records in enumerate(windows, start=1):
        window = f"w{n}"
        table = ctx.warehouse._table("stage", staging_table_id(entity, run_id, window))
        ctx.bigquery.delete_table(table, not_found_ok=True)
        ctx.bigquery.create_table(bigquery.Table(table, schema=raw_schema(entity)))
        rows = [
            to_row(entity, r, run_id=run_id, window_id=window, page=1, ingested_at=EPOCH_2025)
            for r in records
        ]
        for start in range(0, len(rows), 2000):
            assert not ctx.bigquery.insert_rows_json(table, rows[start : start + 2000])
        ids.append(window)
    return ids


EPOCH_2025 = datetime(2025, 7, 1, tzinfo=UTC)


def assert_raw_matches_simulator(
    pipe: Pipeline, entities: list[str] | None = None, *, tenant_id: str | None = None
) -> None:
    """Raw == simulator for each entity: same keys, latest version, no duplicate keys;
    records modified at or after the last run's end may still be pending (the next run's)."""
    results = pipe.compare(entities, tenant_id=tenant_id)
    bad = [r.describe() for r in results if not r.ok]
    assert not bad, "raw differs from the simulator:\n" + "\n".join(bad)


def rebuilds(pipe: Pipeline, run_id: str, *, tenant_id: str | None = None) -> int:
    rows = pipe.ctx.for_tenant(tenant_id).state.query_file("ops/rebuilt_count.sql", run_id=run_id)
    return int(rows[0]["n"])


def row_for(entity_name: str, record: dict) -> dict:
    """A raw row as the fetch would write it (for tests that stage rows by hand)."""
    return to_row(
        get_entity(entity_name),
        record,
        run_id="test",
        window_id="test",
        page=1,
        ingested_at=parse_ts("2025-01-01T00:00:00Z"),
    )


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=str, sort_keys=True)


# Two tenants besides the simulator's primary (1000, Phoenix, the scale a test gives): three
# of different sizes, data and time zones, for tests of one deployment serving several.
ADDED_TENANTS = (
    TenantSpec("2000", seed=7, scale=0.003, time_zone="America/Los_Angeles",
               display_name="Silver State Painting"),
    TenantSpec("3000", seed=11, scale=0.001, time_zone="America/Phoenix",
               display_name="Old Pueblo Painting"),
)  # fmt: skip
_SETTINGS = ("ST_", "BQ_DATASET", "REPORT_", "LANDING_")
_CLI = "import sys; from stkpi_tools.cli import main; sys.argv[0] = 'stkpi'; main()"


def _added(sim: Any) -> list[dict[str, Any]]:
    """The simulator's added tenants as ``/_sim/tenants`` describes them."""
    return [sim.of(t).state.describe() for t in sim.tenant_ids[1:]]


@dataclass
class TenantStack:
    """A local stack whose simulator serves several tenants (``multi_tenant_stack``): the
    default one and the added ones, whose secrets wait in ``ST_SECRETS_DIR`` and which are
    not registered until ``add`` (``stkpi tenant add``, as an operator does)."""

    info: StackInfo
    env: dict[str, str]  # the operator's CLI environment: this stack, nothing of the caller's
    name_prefix: str
    tenants: list[dict[str, Any]]  # the simulator's, primary first (GET /_sim/tenants)

    @property
    def added(self) -> list[str]:
        return [t["tenant_id"] for t in self.tenants[1:]]

    def admin(self, tenant_id: str | None = None) -> SimAdmin:
        """The simulator's admin API for one tenant (None: the default tenant)."""
        return SimAdmin(self.info.url("simulator"), tenant=tenant_id)

    def stkpi(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run the CLI as the operator of this stack."""
        return subprocess.run([sys.executable, "-c", _CLI, *args], env=self.env, text=True,
                              capture_output=True, timeout=timeout)  # fmt: skip

    def add(self, tenant_id: str) -> subprocess.CompletedProcess[str]:
        """``stkpi tenant add`` for an added tenant, as ``stkpi local up`` prints it."""
        tenant = next(t for t in self.tenants if t["tenant_id"] == tenant_id)
        args = add_command(tenant, self.name_prefix).split(" ", 1)[1]
        return self.stkpi(*shlex.split(args))

    def add_all(self) -> None:
        for tenant_id in self.added:
            got = self.add(tenant_id)
            assert got.returncode == 0, got.stdout + got.stderr


@contextmanager
def multi_tenant_stack(
    root: Path,
    emulators: Mapping[str, Service],
    prefix: str,
    *,
    tenants: Sequence[TenantSpec] = ADDED_TENANTS,
    scale: float = 0.002,
    functions: bool = True,
    **stack_options: Any,
) -> Iterator[TenantStack]:
    """A local stack on the session's emulators (``emulators``: gcs, bigquery, pubsub
    services), its names its own (terraform's ``name_prefix``), whose simulator serves the
    default tenant at ``scale`` and ``tenants`` besides; stopped after the block."""
    name_prefix = f"{prefix}-"
    stack = Stack(
        root,
        sim_args={"scale": scale, "seed": 42},
        tf_variables={"name_prefix": name_prefix, "retry_minimum_backoff_seconds": 0.5,
                      "retry_maximum_backoff_seconds": 2},
        reuse=emulators,
        functions=functions,
        tenants=tenants,
        **stack_options,
    )  # fmt: skip
    with stack as info:
        # the stack's settings (stack.json), none of the caller's
        mine = info.env()
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in mine and not k.endswith("_EMULATOR_HOST") and not k.startswith(_SETTINGS)
        }
        env["STKPI_STACK_ROOT"] = str(root)  # fmt: skip
        admin = SimAdmin(info.url("simulator"))
        try:
            served = admin.tenants()
        finally:
            admin.close()
        yield TenantStack(info, env, name_prefix, served)
