"""Chaos lab 3: three tenants in one deployment, a crash and a dead letter in one of them.

Smaller than the other two labs (the scenario is about tenants apart, not volume): the
deployment's default tenant at scale 0.05 and two added ones at 0.03 and 0.01, every one
compared with its simulator key for key after the scenario.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from chaos_suite import TENANTS_LAB, run_lab

from stkpi_tools.chaos.lab import LabConfig
from stkpi_tools.sim.config import TenantSpec

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

TENANTS = (
    TenantSpec("2000", seed=7, scale=0.03, time_zone="America/Los_Angeles",
               display_name="Silver State Painting"),
    TenantSpec("3000", seed=11, scale=0.01, display_name="Old Pueblo Painting"),
)  # fmt: skip


def test_a_crash_and_a_dead_letter_in_one_tenant_lose_nothing_in_any(tmp_path: Path) -> None:
    config = LabConfig(scale=0.05, tenants=TENANTS)
    run_lab(TENANTS_LAB, tmp_path, config, min_expected=50_000)
