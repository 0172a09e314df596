"""`stkpi demo --own-tenant --keep` on a tenant of the user's own: settings from the
environment only, no simulator of the stack's.

As in test_local_own_tenant.py, a ServiceTitan-contract server that is not the stack's
simulator (another tenant id, credentials and app key) stands in for a real tenant. The
demo must backfill that server's records, run the daily increment, write the report, and
leave the stack where `stkpi local down` finds it (--keep); the secret must appear in no
file it wrote (stack.json, logs, the report) and in none of its output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stkpi.config import load_settings
from stkpi.gcp import bigquery_client
from stkpi_tools.localstack import StackInfo
from stkpi_tools.localstack.process import pgid_alive
from stkpi_tools.localstack.provision import patched_environ
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.server import running_simulator

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

CLI = "import sys; from stkpi_tools.cli import main; sys.argv[0] = 'stkpi'; main()"
SECRET = "demo-secret-must-not-leak"
APP_KEY = "demo-app-key-must-not-leak"


def _stkpi(*args: str, cwd: Path, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CLI, *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def test_demo_runs_the_users_tenant_and_keeps_the_stack_for_local_down(tmp_path: Path) -> None:
    tenant = SimConfig(
        scale=0.001, seed=11, tenant_id="5151", client_id="demo-client",
        client_secret=SECRET, app_key=APP_KEY,
    )  # fmt: skip
    with running_simulator(tenant) as server:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.endswith("_EMULATOR_HOST") and not k.startswith(("ST_", "REPORT_", "STKPI_"))
        }
        env.update(
            {
                "ST_API_BASE_URL": server.base_url,
                "ST_AUTH_URL": server.auth_url,
                "ST_TENANT_ID": "5151",
                "ST_CLIENT_ID": "demo-client",
                "ST_CLIENT_SECRET": SECRET,
                "ST_APP_KEY": APP_KEY,
            }
        )
        root = tmp_path / ".stkpi" / "stack"  # where --keep leaves it: `local up`'s run dir
        demo = _stkpi("demo", "--own-tenant", "--since", "2019-01-01", "--keep", cwd=tmp_path,
                      env=env)  # fmt: skip
        info = StackInfo.load(root) if (root / "stack.json").exists() else None
        try:
            assert demo.returncode == 0, demo.stdout + demo.stderr
            assert "your tenant at " + server.base_url in demo.stdout
            assert info is not None and all(info.alive().values()), "--keep left nothing"
            assert "simulator" not in info.pids  # the user's server, not the stack's own
            with patched_environ(info.admin_env()):
                settings = load_settings(info.admin_env())
                client = bigquery_client(settings)
                dim = f"{settings.gcp_project}.{settings.dataset('dim')}.dim_jobs"
                jobs = {int(r["job_id"]) for r in client.query(f"SELECT job_id FROM `{dim}`")}
            # the user's tenant, record for record
            assert jobs == {int(j["id"]) for j in server.snapshot("jobs")}
            assert (tmp_path / "kpi-report.html").is_file()
        finally:
            down = _stkpi("local", "down", cwd=tmp_path, env=env)
        assert down.returncode == 0, down.stderr
        assert info is not None and not any(pgid_alive(pid) for pid in info.pids.values())
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    leaked = [
        p for p in written if any(s in p.read_text(errors="ignore") for s in (SECRET, APP_KEY))
    ]
    assert leaked == []
    assert SECRET not in demo.stdout + demo.stderr and APP_KEY not in demo.stdout + demo.stderr
