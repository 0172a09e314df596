"""`stkpi demo --own-tenant`: where the tenant's settings come from, and what a missing one
says, before any stack starts (the full run is tests/integration/test_demo_own_tenant.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stkpi.errors import ConfigError
from stkpi_tools.demo import SERVICETITAN_API, backfill_since, own_tenant_settings
from stkpi_tools.sim.config import HISTORY_START

SECRET = "s3cret-never-printed"
TENANT = {
    "ST_AUTH_URL": "https://auth.example.test/",
    "ST_TENANT_ID": "4242",
    "ST_CLIENT_ID": "acme-client",
    "ST_CLIENT_SECRET": SECRET,
    "ST_APP_KEY": "acme-app-key",
}
CLI = "import sys; from stkpi_tools.cli import main; sys.argv[0] = 'stkpi'; main()"


def test_settings_from_the_environment_default_to_servicetitans_api(tmp_path: Path) -> None:
    tenant = own_tenant_settings({**TENANT, "REPORT_TIMEZONE": "Asia/Tokyo"}, tmp_path)
    assert tenant.base_url == SERVICETITAN_API
    assert tenant.auth_url == "https://auth.example.test"
    assert tenant.user["ST_CLIENT_SECRET"] == SECRET  # for the fetch function's process
    assert tenant.user["REPORT_TIMEZONE"] == "Asia/Tokyo"  # becomes a terraform variable
    assert tenant.from_dotenv == ()
    assert SECRET not in repr(tenant) and SECRET not in str(tenant)


def test_dotenv_completes_the_environment_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "\n".join(f"{k}={v}" for k, v in TENANT.items())
        + "\nST_API_BASE_URL=http://127.0.0.1:9999\nST_TENANT_ID=from-file\n"
    )
    tenant = own_tenant_settings({"ST_TENANT_ID": "from-env", "PATH": "/bin"}, tmp_path)
    assert tenant.base_url == "http://127.0.0.1:9999"
    assert tenant.user["ST_TENANT_ID"] == "from-env"
    assert "ST_CLIENT_SECRET" in tenant.from_dotenv and "ST_TENANT_ID" not in tenant.from_dotenv
    assert "PATH" not in tenant.user  # only the settings a user gives for ServiceTitan


def test_every_missing_setting_is_named_with_the_fix(tmp_path: Path) -> None:
    partial = {k: v for k, v in TENANT.items() if k not in ("ST_CLIENT_ID", "ST_APP_KEY")}
    with pytest.raises(ConfigError) as err:
        own_tenant_settings(partial, tmp_path)
    message = str(err.value)
    assert "ST_CLIENT_ID: is required for --own-tenant" in message
    assert "ST_APP_KEY: is required for --own-tenant" in message
    assert ".env" in message and "stkpi doctor" in message
    assert SECRET not in message


def test_a_malformed_setting_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        own_tenant_settings({**TENANT, "ST_PAGE_SIZE": "lots"}, tmp_path)
    assert "ST_PAGE_SIZE" in str(err.value) and SECRET not in str(err.value)


def test_the_backfill_covers_a_year_of_a_real_tenant_and_all_of_the_simulator() -> None:
    now = datetime(2026, 11, 30, 21, tzinfo=UTC)
    assert backfill_since(None, own_tenant=True, now=now) == datetime(2025, 11, 30, tzinfo=UTC)
    assert backfill_since(None, own_tenant=False, now=now) == HISTORY_START
    assert backfill_since("2024-03-01", own_tenant=True, now=now) == datetime(
        2024, 3, 1, tzinfo=UTC
    )
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        backfill_since("March", own_tenant=True, now=now)
    with pytest.raises(ConfigError, match="not in the past"):
        backfill_since("2027-01-01", own_tenant=True, now=now)


def test_the_cli_refuses_before_starting_anything(tmp_path: Path) -> None:
    """One clear line and exit 2, no traceback, no stack run dir created."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ST_", "STKPI_"))}
    env["ST_CLIENT_SECRET"] = SECRET
    done = subprocess.run(
        [sys.executable, "-c", CLI, "demo", "--own-tenant"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "ST_AUTH_URL: is required for --own-tenant" in done.stderr
    assert "Traceback" not in done.stderr and SECRET not in done.stdout + done.stderr
    assert not (tmp_path / ".stkpi").exists()
