"""`stkpi local up` on a tenant of the user's own: settings from the environment only.

A ServiceTitan-contract server that is not the stack's simulator (a second simulator with
another tenant id, credentials and app key) stands in for a real tenant; the report time
zone is Tokyo, far from the default Phoenix. The backfilled records must be the server's,
their dates cut at Tokyo's midnight, and the secret must appear in no file of the stack.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from stkpi.config import load_settings
from stkpi.gcp import bigquery_client
from stkpi_tools.localstack import StackInfo
from stkpi_tools.localstack.provision import patched_environ
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.server import running_simulator

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

CLI = "import sys; from stkpi_tools.cli import main; sys.argv[0] = 'stkpi'; main()"
SECRET = "acme-secret-must-not-leak"
TOKYO = ZoneInfo("Asia/Tokyo")


def _stkpi(*args: str, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CLI, *args], env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def test_local_up_runs_the_users_tenant_with_their_settings(tmp_path) -> None:
    tenant = SimConfig(
        scale=0.001, seed=9, tenant_id="4242", client_id="acme-client",
        client_secret=SECRET, app_key="acme-app-key",
    )  # fmt: skip
    with running_simulator(tenant) as server:
        root = tmp_path / "stack"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.endswith("_EMULATOR_HOST") and not k.startswith(("ST_", "REPORT_"))
        }
        env.update(
            {
                "STKPI_STACK_ROOT": str(root),
                "ST_AUTH_URL": server.auth_url,
                "ST_TENANT_ID": "4242",
                "ST_CLIENT_ID": "acme-client",
                "ST_CLIENT_SECRET": SECRET,
                "ST_APP_KEY": "acme-app-key",
                "REPORT_TIMEZONE": "Asia/Tokyo",
            }
        )
        up = _stkpi("local", "up", "--st-api-base-url", server.base_url, env=env)
        try:
            assert up.returncode == 0, up.stdout + up.stderr
            info = StackInfo.load(root)
            end = (server.now.date() + timedelta(days=1)).isoformat()  # through today
            run = _stkpi(
                "backfill", "--start", "2019-01-01", "--end", end, "--entities", "jobs",
                "--window-days", "3650", env=env,
            )  # fmt: skip
            assert run.returncode == 0, run.stdout + run.stderr
            with patched_environ(info.admin_env()):
                settings = load_settings(info.admin_env())
                client = bigquery_client(settings)
                dim = f"{settings.gcp_project}.{settings.dataset('dim')}.dim_jobs"
                rows = list(client.query(f"SELECT job_id, created_on, created_date FROM `{dim}`"))
            # the user's tenant, record for record (the stack's own default is another)
            expected = {int(j["id"]): j for j in server.snapshot("jobs")}
            assert {int(r["job_id"]) for r in rows} == set(expected)
            # dates cut at Tokyo's midnight, not Phoenix's
            for r in rows:
                assert r["created_date"] == r["created_on"].astimezone(TOKYO).date()
            phoenix = ZoneInfo("America/Phoenix")
            assert any(
                r["created_on"].astimezone(TOKYO).date()
                != r["created_on"].astimezone(phoenix).date()
                for r in rows
            ), "the fixture must tell the two time zones apart"
        finally:
            down = _stkpi("local", "down", env=env)
        assert down.returncode == 0, down.stderr
        # the secret reached the fetch function only: no file of the stack holds it
        leaked = [
            p for p in root.rglob("*") if p.is_file() and SECRET in p.read_text(errors="ignore")
        ]
        assert leaked == []
        assert SECRET not in up.stdout + up.stderr + run.stdout + run.stderr
