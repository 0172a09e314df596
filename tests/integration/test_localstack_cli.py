"""`stkpi local up/env/ps/down` in separate processes: detached start, exact stop."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stkpi.localstack import StackInfo
from stkpi.localstack.process import pgid_alive

pytestmark = pytest.mark.integration

CLI = "import sys; from stkpi.cli import main; sys.argv[0] = 'stkpi'; main()"


def _stkpi(*args: str, env: dict, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_local_up_env_down(tmp_path) -> None:
    root = tmp_path / "stack"
    env = {**os.environ, "STKPI_STACK_ROOT": str(root), "COLUMNS": "200"}
    for key in ("BIGQUERY_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST"):
        env.pop(key, None)
    up = _stkpi("local", "up", "--scale", "0.001", "--seed", "3", env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        info = StackInfo.load(root)
        assert all(info.alive().values()), info.alive()
        exports = _stkpi("local", "env", env=env)
        assert exports.returncode == 0, exports.stderr
        # the CLI's environment is the operator's: BigQuery through its IAM gate port
        operator_bq = info.env()["BIGQUERY_EMULATOR_HOST"]
        assert f"export BIGQUERY_EMULATOR_HOST={operator_bq}" in exports.stdout
        assert info.iam and operator_bq != info.url("bigquery")
        assert "export ST_API_BASE_URL=" in exports.stdout
        again = _stkpi("local", "up", env=env)
        assert again.returncode == 2 and "already running" in again.stderr
    finally:
        down = _stkpi("local", "down", env=env)
    assert down.returncode == 0, down.stderr
    assert not any(pgid_alive(pid) for pid in info.pids.values())
    assert not (root / "stack.json").exists()
