"""The deploy sequence runs end to end from an empty state: ``scripts/deploy.sh --local``,
the one-pass deploy's five steps on the local stack (the deployment terraform/ describes,
on the emulators): apply (``local up`` from an empty run dir), secrets, operator settings,
the tenant's maps from the tenant (``stkpi tenant init``) and a first backfill, then the
validations. What only Google can check is in docs/DEPLOY.md, "First deploy"."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_deploy_script_runs_end_to_end_on_the_local_stack(tmp_path: Path) -> None:
    run_dir = tmp_path / "deploy"
    run_dir.mkdir()
    (run_dir / "leftover").write_text("a previous attempt")  # the script starts from empty
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    env["STKPI_STACK_ROOT"] = str(run_dir)
    try:
        proc = subprocess.run(
            # the first run backfills the simulated tenant's last month (cheap; the pipeline
            # itself is the other tests' subject)
            ["bash", "scripts/deploy.sh", "--local", "--root", str(run_dir), "--since", "2025-09-01"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    finally:  # whatever happened, nothing it started outlives the test
        subprocess.run(["./dev", "stkpi", "local", "down"], cwd=ROOT, env=env,
                       capture_output=True, timeout=120)  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    for n in range(1, 6):
        assert f"==> deploy step {n}/5" in out, out[-3000:]
    assert not (run_dir / "leftover").exists()
    # the tenant's maps from the tenant: every simulated unit mapped, every KPI a report
    assert "wrote tenant 1000's maps: 11 business units (0 not mapped), 10 report rows" in out
    assert "published backfill" in out and "overall" in out
    assert "deploy: done (local)" in out
    assert not (run_dir / "stack.json").exists()  # the trap stopped the stack
