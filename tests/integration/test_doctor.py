"""``stkpi doctor`` against the simulator, run as a user runs it: the installed command in a
subprocess, settings from the environment (and a ``.env`` file), output read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stkpi.registry import ENTITIES
from stkpi_tools.sim.server import SimHandle

_STKPI = Path(sys.executable).with_name("stkpi")
_COMMAND = [str(_STKPI)] if _STKPI.exists() else [sys.executable, "-m", "stkpi_tools.cli"]
_ST_VARS = ("ST_", "GCP_PROJECT", "LANDING_BUCKET")


@pytest.fixture(autouse=True)
def _clean(clean_sim: SimHandle) -> SimHandle:
    return clean_sim


def _env(sim: SimHandle | None, **overrides: str) -> dict[str, str]:
    """The test process's environment without any ServiceTitan or GCP setting, pointed at
    the simulator; an override of ``""`` removes the variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_ST_VARS)}
    if sim is not None:
        env |= sim.env() | {"ST_RATE_LIMIT_PER_SECOND": "50"}
    env |= overrides
    return {k: v for k, v in env.items() if v != ""}


def _doctor(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_COMMAND, "doctor", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _flat(text: str) -> str:
    return " ".join(text.split())


def _json(result: subprocess.CompletedProcess[str]) -> dict:
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == result.returncode
    return doc


def _assert_no_secret(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    for secret in secrets:
        assert secret not in result.stdout
        assert secret not in result.stderr


def test_all_green_lists_every_endpoint_with_the_simulators_count(
    sim: SimHandle, tmp_path: Path
) -> None:
    result = _doctor(_env(sim), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = _flat(result.stdout)
    counts = sim.tenant.counts()
    for entity in ENTITIES:
        path = entity.path(sim.tenant_id)
        assert f"OK │ endpoint {entity.name} │ {path}: {counts[entity.name]:,} records" in out
    assert "token granted" in out and "client credentials accepted" in out
    assert "app key accepted, tenant 1000 known (17 of 17 endpoints answered)" in out
    assert "no rate-limit headers: using the configured ST_RATE_LIMIT_PER_SECOND=50" in out
    total = sum(counts.values())
    assert f"{total:,} records" in out and "overall OK" in out
    _assert_no_secret(result, sim.client_secret, sim.app_key)


def test_json_document(sim: SimHandle, tmp_path: Path) -> None:
    result = _doctor(_env(sim, ST_PAGE_SIZE="100"), tmp_path, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    doc = _json(result)
    assert doc["status"] == "ok" and doc["skipped"] == []
    checks = doc["checks"]
    assert all(set(c) == {"name", "status", "detail", "fix", "data"} for c in checks)
    assert all(c["status"] == "ok" for c in checks)
    names = [c["name"] for c in checks]
    assert names == [
        "auth server reachable",
        "token granted",
        "app key and tenant",
        *(f"endpoint {e.name}" for e in ENTITIES),
        "rate limit",
        "backfill estimate",
    ]
    counts = sim.tenant.counts()
    by_name = {c["name"]: c for c in checks}
    for entity in ENTITIES:
        assert by_name[f"endpoint {entity.name}"]["data"]["count"] == counts[entity.name]
    estimate = by_name["backfill estimate"]["data"]
    pages = sum(max(1, -(-n // 100)) for n in counts.values())
    assert estimate["records"] == sum(counts.values())
    assert estimate["requests"] == pages
    assert estimate["minutes"] == round(pages / 50 / 60, 2)
    assert by_name["rate limit"]["data"]["source"] == "configured"
    _assert_no_secret(result, sim.client_secret, sim.app_key)


def test_wrong_secret_names_invalid_client(sim: SimHandle, tmp_path: Path) -> None:
    wrong = "wrong-secret-5f3a9c"
    result = _doctor(_env(sim, ST_CLIENT_SECRET=wrong), tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    out = _flat(result.stdout)
    assert "auth server reachable" in out and "answered (HTTP 401)" in out
    assert "invalid_client" in out
    assert "the client id or secret is wrong: check ST_CLIENT_ID / ST_CLIENT_SECRET" in out
    assert "not checked (an earlier check failed)" in out
    _assert_no_secret(result, wrong, sim.client_secret, sim.app_key)

    doc = _json(_doctor(_env(sim, ST_CLIENT_SECRET=wrong), tmp_path, "--json"))
    token = next(c for c in doc["checks"] if c["name"] == "token granted")
    assert token["status"] == "fail" and "invalid_client" in token["detail"]
    assert "endpoint jobs" in doc["skipped"]


def test_a_module_without_scope_is_a_warning_naming_endpoint_and_scope(
    sim: SimHandle, tmp_path: Path
) -> None:
    sim.set_faults(denied_modules=["payroll"])
    result = _doctor(_env(sim), tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    out = _flat(result.stdout)
    payroll = [e for e in ENTITIES if e.module == "payroll"]
    assert payroll
    for entity in payroll:
        assert f"WARN │ endpoint {entity.name} │ {entity.path(sim.tenant_id)}: HTTP 403" in out
    assert "enable the payroll API scope for the app in the ServiceTitan developer portal" in out
    assert "app key accepted" in out
    _assert_no_secret(result, sim.client_secret, sim.app_key)

    doc = _json(_doctor(_env(sim), tmp_path, "--json"))
    warned = {c["name"]: c for c in doc["checks"] if c["status"] == "warn"}
    assert set(warned) == {f"endpoint {e.name}" for e in payroll} | {"backfill estimate"}
    assert all("payroll API scope" in warned[f"endpoint {e.name}"]["fix"] for e in payroll)
    assert all(c["status"] == "ok" for c in doc["checks"] if c["name"] not in warned)


def test_wrong_app_key_and_unknown_tenant_fail_naming_the_setting(
    sim: SimHandle, tmp_path: Path
) -> None:
    result = _doctor(_env(sim, ST_APP_KEY="not-the-app-key-77"), tmp_path, "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    access = next(c for c in _json(result)["checks"] if c["name"] == "app key and tenant")
    assert access["status"] == "fail" and "ST_APP_KEY" in access["fix"]
    _assert_no_secret(result, "not-the-app-key-77", sim.client_secret)

    result = _doctor(_env(sim, ST_TENANT_ID="424242"), tmp_path, "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    access = next(c for c in _json(result)["checks"] if c["name"] == "app key and tenant")
    assert "tenant 424242 not found" in access["detail"] and "ST_TENANT_ID" in access["fix"]


def test_settings_from_dotenv_and_the_environment_wins(sim: SimHandle, tmp_path: Path) -> None:
    good = sim.env()
    lines = [f"{k}={v}" for k, v in good.items() if k != "ST_CLIENT_SECRET"]
    lines += ["# the wrong secret: the environment overrides it", "ST_CLIENT_SECRET='wrong'"]
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    env = _env(None, ST_RATE_LIMIT_PER_SECOND="50")

    result = _doctor(env, tmp_path)  # only .env: its wrong secret is used
    assert result.returncode == 2 and "invalid_client" in result.stdout

    result = _doctor(env | {"ST_CLIENT_SECRET": sim.client_secret}, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "settings from the environment and .env (ST_API_BASE_URL" in _flat(result.stdout)
    _assert_no_secret(result, sim.client_secret, sim.app_key)


def test_a_missing_setting_is_one_config_error(sim: SimHandle, tmp_path: Path) -> None:
    result = _doctor(_env(sim, ST_CLIENT_SECRET=""), tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "ST_CLIENT_SECRET: is required to call ServiceTitan but not set" in result.stderr
    assert "Traceback" not in result.stderr
    _assert_no_secret(result, sim.app_key)


def test_rate_limit_headers_are_reported_when_the_api_sends_them() -> None:
    from stkpi.config import load_settings
    from stkpi.servicetitan.errors import Redactor
    from stkpi_tools.doctor.capacity import rate_limit_check
    from stkpi_tools.doctor.observer import Observer

    settings = load_settings(
        {
            "ST_API_BASE_URL": "http://api",
            "ST_AUTH_URL": "http://auth",
            "GCP_PROJECT": "p",
            "LANDING_BUCKET": "bucket",
            "ST_RATE_LIMIT_PER_SECOND": "10",
        }
    )
    seen = Observer(Redactor())
    check = rate_limit_check(settings, seen)
    assert check.status == "ok" and check.data["source"] == "configured"
    seen.rate_headers = {"X-RateLimit-Limit": "60"}
    seen.api_statuses[200] += 9
    seen.api_statuses[429] += 1
    check = rate_limit_check(settings, seen)
    assert check.data["source"] == "headers" and "X-RateLimit-Limit: 60" in check.detail
    assert check.status == "warn" and "429 to 1 of the doctor's 10 requests" in check.detail


def test_dotenv_lines(tmp_path: Path) -> None:
    from stkpi_tools.dotenv import read_dotenv

    path = tmp_path / ".env"
    path.write_text(
        "# comment\n\nexport ST_A=1\nST_B = 'two words'\nST_C=\"x#y\"\nST_D=val # note\nST_E=\n"
    )
    assert read_dotenv(path) == {
        "ST_A": "1",
        "ST_B": "two words",
        "ST_C": "x#y",
        "ST_D": "val",
        "ST_E": "",
    }
