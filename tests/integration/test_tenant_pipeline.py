"""An added tenant runs end to end in the deployment that serves it (docs/TENANTS.md):
registered with `stkpi tenant add` (its datasets made, its doctor passed with its own
credentials), backfilled by a plan message naming it, every step in its context: its
records land under ``t<id>/`` in the bucket, load and MERGE into ``<prefix>_t<id>_*``, and
its rebuild writes its marts, while the deployment's default tenant's datasets and paths
are untouched. A message naming a tenant nobody added is dead-lettered with the command
that adds it.

The simulator here serves tenant 2000 only; the deployment's default tenant is 1000 (as in
tests/integration/test_tenant_registry.py), never run here. Tenant 2000's credentials are
its own secrets, files in ``ST_SECRETS_DIR`` (Secret Manager's local stand-in,
stkpi.secrets), and the deployment's settings do not hold them.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
from pipeline_harness import assert_raw_matches_simulator, in_process_pipeline, rebuilds
from pydantic import SecretStr
from typer.testing import CliRunner

from stkpi import secrets
from stkpi.deadletters import list_dead_letters
from stkpi.gcp import storage_client
from stkpi.landing import Landing, WindowRef, page_name, window_prefix
from stkpi.messages import PlanMessage
from stkpi.secrets import SecretReader, directory_accessor
from stkpi.tenant_contexts import UnknownTenantError
from stkpi.tenants import Tenant, landing_root, secret_names
from stkpi_tools.cli import app
from stkpi_tools.sim.config import HISTORY_START
from stkpi_tools.tenant.add import add_tenant
from stkpi_tools.tenant.simulated import write_simulated_maps

pytestmark = pytest.mark.integration

ADDED, DEFAULT = "2000", "1000"


def _count(client, table: str) -> int:
    return next(iter(client.query_and_wait(f"SELECT COUNT(*) AS n FROM `{table}`")))["n"]


def test_an_added_tenant_is_backfilled_into_its_own_datasets_and_paths(
    bq_emulator, gcs_emulator, pubsub_emulator, crash_file: Path, tmp_path: Path, monkeypatch
) -> None:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    monkeypatch.setenv("ST_SECRETS_DIR", str(secrets_dir))
    secrets.forget()
    env = {"ST_PAGE_SIZE": "5000", "ST_TENANT_ID": DEFAULT}
    with in_process_pipeline("tna", seed=5, crash_file=crash_file, env=env,
                             tenant_id=ADDED, client_secret="s3cr3t-2000") as pipe:  # fmt: skip
        ctx, sim = pipe.ctx, pipe.sim
        settings = ctx.settings
        config = sim.state.config
        names = secret_names(settings.gcp_project, ADDED)
        values = {"ST_CLIENT_ID": config.client_id, "ST_CLIENT_SECRET": config.client_secret,
                  "ST_APP_KEY": config.app_key}  # fmt: skip
        for env_name, name in names.items():
            (secrets_dir / name.rsplit("/", 1)[-1]).write_text(values[env_name] + "\n")
        tenant = Tenant(ADDED, "Acme North", names, "America/Denver")
        # (allow_warnings: the harness's rate is above ServiceTitan's default on purpose)
        add_tenant(ctx.bigquery, settings, tenant, SecretReader(directory_accessor(secrets_dir)),
                   at=dt.datetime.now(dt.UTC), allow_warnings=True)  # fmt: skip
        write_simulated_maps(ctx.bigquery, settings, ADDED)  # its maps, in the deployment's ops

        run_id = "tenant-bf"
        pipe.run(PlanMessage(run_type="backfill", start=HISTORY_START, end=sim.now,
                             window_days=3000, run_id=run_id, tenant_id=ADDED))  # fmt: skip

        tctx = ctx.for_tenant(ADDED)
        assert tctx.settings.dataset("raw") == "tna_st_t2000_raw"
        assert rebuilds(pipe, run_id, tenant_id=ADDED) == 1
        assert_raw_matches_simulator(pipe, tenant_id=ADDED)
        project, client = settings.gcp_project, ctx.bigquery
        mart = f"{project}.{tctx.settings.dataset('mart')}.kpi_weekly"
        assert _count(client, mart) > 0
        # Its rebuild made the deployment's combined view (stkpi.combined) over its marts;
        # the default tenant has none yet, so it waits for its own first rebuild.
        view = f"{project}.{settings.dataset('mart')}.kpi_weekly_all"
        rows = client.query_and_wait(f"SELECT DISTINCT tenant_id, time_zone FROM `{view}` "
                                     "WHERE scope = 'tenant'")  # fmt: skip
        assert [(r["tenant_id"], r["time_zone"]) for r in rows] == [(ADDED, "America/Denver")]
        # The default tenant's datasets: made by the deployment, never written by this run.
        for table in ("raw.jobs", "raw.invoices", "ops.window_events", "ops.run_events",
                      "ops.sync_state"):  # fmt: skip
            layer, name = table.split(".")
            assert _count(client, f"{project}.{settings.dataset(layer)}.{name}") == 0, table
        # Every object of the run under t2000/: pages, plan, markers, claims, lanes, report.
        bucket = storage_client(settings).bucket(settings.landing_bucket)
        objects = [b.name for b in bucket.list_blobs()]
        assert any(n.startswith("t2000/landing/jobs/run=tenant-bf/") for n in objects)
        assert "t2000/control/runs/tenant-bf/rebuild.done" in objects
        assert [n for n in objects if not n.startswith("t2000/")] == []

        # A tenant nobody added: dead-lettered (replayable) with the command that adds it.
        unknown = PlanMessage(run_type="daily", run_id="nobody", tenant_id="3000")
        ctx.bus.publish(settings.topic_plan, unknown)
        pipe.pump.run_until_idle(idle_seconds=1.0, timeout=60)
        [letter] = [d for d in list_dead_letters(settings) if d.data == unknown.to_bytes()]
        summary = letter.summary()
        assert summary["kind"].startswith("tenant not added"), summary
        assert summary["tenant_id"] == "3000"

        # The operator's commands take --tenant: one tenant's runs and dead letters.
        for name, value in settings:
            if value is not None:
                value = value.get_secret_value() if isinstance(value, SecretStr) else value
                text = json.dumps(value) if isinstance(value, dict) else str(value)
                monkeypatch.setenv(name.upper(), text)
        monkeypatch.setenv("STKPI_STACK_ROOT", str(tmp_path / "no-stack"))
        got = CliRunner().invoke(app, ["status", "--tenant", ADDED])
        assert got.exit_code == 0, got.output
        assert run_id in got.output  # the tenant's run, from its own ops dataset
        assert "tenant-bf" not in CliRunner().invoke(app, ["status"]).output  # not the default's
        got = CliRunner().invoke(app, ["daily", "--tenant", "3000", "--no-wait"])
        # (stkpi's main prints a StkpiError as one line, exit 2; CliRunner runs the app)
        assert isinstance(got.exception, UnknownTenantError), got.output
        assert "stkpi tenant add --tenant-id 3000" in str(got.exception)
        got = CliRunner().invoke(app, ["dead-letters", "--tenant", "3000", "--json"])
        assert [d["tenant_id"] for d in json.loads(got.output)["dead_letters"]] == ["3000"]
        got = CliRunner().invoke(app, ["dead-letters", "--tenant", ADDED, "--json"])
        assert json.loads(got.output)["dead_letters"] == []
        assert "stkpi tenant add --tenant-id 3000" in summary["reason"]


def test_two_tenants_runs_with_one_run_id_share_no_object(gcs_emulator) -> None:
    """The default tenant's names are today's; an added tenant's are the same names under
    ``t<id>/``, so equal run ids (a daily run's id is its hour) claim, mark and list apart."""
    bucket = f"paths-{uuid.uuid4().hex[:8]}"
    gcs_emulator.client.create_bucket(bucket)
    default = Landing(gcs_emulator.client, bucket)
    added = default.under(landing_root(ADDED))
    ref = WindowRef("jobs", "w1")
    for landing in (default, added):
        prefix = window_prefix("jobs", "daily-1", "w1")
        assert landing.write_page(prefix, 1, [{"id": 1}]) == 1
        # each tenant wins its own claim, plan and lane: nothing is shared
        assert landing.create_json_once(Landing.claim_name("daily-1"), {"by": landing.root})
        assert landing.create_json_once(Landing.plan_name("daily-1"), {"by": landing.root})
        assert landing.create_json_once(Landing.handoff_name("daily-1", ref), {})
        landing.write_json(Landing.loaded_name("daily-1", ref), {})
        # what a tenant reads back is named as it wrote it, never with its root
        assert landing.loaded_windows("daily-1") == {"jobs/w1"}
        assert set(landing.page_objects(prefix)) == {1}
        assert landing.page_objects(prefix)[1].name == page_name(prefix, 1)
        assert set(landing.listing(Landing.control_dir("daily-1", "admitted"))) == {"jobs/w1"}
    assert added.read_json(Landing.claim_name("daily-1")) == {"by": "t2000/"}
    assert default.read_json(Landing.claim_name("daily-1")) == {"by": ""}
    assert added.uri("landing/x") == f"gs://{bucket}/t2000/landing/x"
    names = sorted(b.name for b in gcs_emulator.client.list_blobs(bucket))
    mine = [n for n in names if not n.startswith("t2000/")]
    assert mine == [
        "control/runs/daily-1/admitted/jobs/w1.json",
        "control/runs/daily-1/loaded/jobs/w1.json",
        "control/runs/daily-1/plan.json",
        "control/runs/daily-1/rebuild.claim",
        "landing/jobs/run=daily-1/window=w1/page-00001.json.gz",
    ]
    assert [n for n in names if n.startswith("t2000/")] == [f"t2000/{n}" for n in mine]
