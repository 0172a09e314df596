"""The fault-injection suite (``stkpi chaos``) at tens of thousands of records per entity.

One lab (fresh emulators, simulator, four function servers behind the dispatcher) runs
every scenario in order; each is judged by comparing raw with the simulator key for key
(see ``stkpi_tools.chaos.runner``). The table is printed so a CI log shows what was proven.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stkpi_tools.chaos.lab import LabConfig
from stkpi_tools.chaos.runner import run_chaos, write_report
from stkpi_tools.chaos.scenarios import SCENARIOS
from stkpi_tools.cli.chaos import render

pytestmark = [pytest.mark.chaos, pytest.mark.integration]


def test_no_loss_no_duplicates_one_rebuild_under_every_fault(tmp_path: Path) -> None:
    # scale 0.1: 22,000+ jobs, 24,000+ appointments, 21,000+ estimates, 17,000+ invoices
    report = run_chaos(tmp_path / "lab", list(SCENARIOS), LabConfig(scale=0.1))
    write_report(report, tmp_path / "chaos-results.json")
    render(report)
    assert len(report["scenarios"]) == len(SCENARIOS)
    jobs_scale = [s["expected"] for s in report["scenarios"]]
    assert min(jobs_scale) > 100_000, "tens of thousands of records per entity"
    failures = [
        f"{s['name']}: {[c['check'] for c in s['checks'] if not c['ok']]} {s['error'] or ''}"
        for s in report["scenarios"]
        if not s["passed"]
    ]
    assert not failures, "\n".join(failures)
