"""`stkpi chaos` runs the scenarios that need added tenants in a lab that serves them, the
others in a plain lab, and reports both as one (a lab without tenants cannot run them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stkpi_tools.chaos import runner
from stkpi_tools.chaos.lab import LabConfig
from stkpi_tools.chaos.scenarios import SCENARIOS, lab_tenants
from stkpi_tools.cli.chaos import _run_labs


@pytest.fixture
def labs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, list[str], LabConfig]]:
    """Each lab the CLI would start: its root, its scenarios' names and its config (a
    report per lab whose verdict is that of its scenarios, passed unless named 'FAIL')."""
    started: list[tuple[Path, list[str], LabConfig]] = []

    def fake_run_chaos(root, scenarios, config, *, on_result=None):  # type: ignore[no-untyped-def]
        started.append((root, [s.name for s in scenarios], config))
        return {"config": {"scale": config.scale, "tenants": len(config.tenants)},
                "setup_seconds": 1.0, "total_seconds": 10.0, "passed": True,
                "scenarios": [{"name": s.name} for s in scenarios]}  # fmt: skip

    monkeypatch.setattr(runner, "run_chaos", fake_run_chaos)
    return started


def test_every_scenario_runs_once_and_the_tenant_one_with_tenants(labs, tmp_path: Path) -> None:
    report = _run_labs(tmp_path, list(SCENARIOS), LabConfig(scale=0.1))
    needing = [s.name for s in SCENARIOS if s.needs_tenants]
    assert needing == ["one tenant of three"]
    (plain_root, plain, plain_cfg), (ten_root, tenanted, ten_cfg) = labs
    assert plain == [s.name for s in SCENARIOS if not s.needs_tenants] and not plain_cfg.tenants
    assert tenanted == needing and ten_cfg.tenants == lab_tenants(0.1)
    assert ten_root != plain_root  # two stacks never share a working folder
    assert [s["name"] for s in report["scenarios"]] == plain + tenanted
    # one report: the plain lab's config heads it (its table's caption), times add up
    assert report["config"] == {"scale": 0.1, "tenants": 0}
    assert report["tenants_lab_config"] == {"scale": 0.1, "tenants": 2}
    assert report["total_seconds"] == 20.0 and report["passed"] is True


def test_only_the_tenant_scenario_is_one_lab_with_tenants(labs, tmp_path: Path) -> None:
    tenant_one = [s for s in SCENARIOS if s.needs_tenants]
    _run_labs(tmp_path, tenant_one, LabConfig(scale=0.05))
    assert [(root, cfg.tenants) for root, _, cfg in labs] == [(tmp_path, lab_tenants(0.05))]


def test_the_added_tenants_are_smaller_than_the_labs_own() -> None:
    # 0.6x and 0.2x the lab's scale: the lab's own tenant stays the largest
    assert [t.scale for t in lab_tenants(0.1)] == [0.06, 0.02]
    assert len({t.tenant_id for t in lab_tenants(0.1)}) == 2
