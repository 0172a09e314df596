"""Chaos lab 2: crashes, duplicate deliveries and edits during daily runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from chaos_suite import CRASH_LAB, LABS, run_lab

from stkpi_tools.chaos.scenarios import SCENARIOS

pytestmark = [pytest.mark.chaos, pytest.mark.integration]


def test_chaos_labs_cover_every_scenario() -> None:
    in_labs = [name for lab in LABS for name in lab]
    assert sorted(in_labs) == sorted(s.name for s in SCENARIOS)  # each once, none left out


def test_no_loss_no_duplicates_one_rebuild_under_crashes_and_duplicates(tmp_path: Path) -> None:
    run_lab(CRASH_LAB, tmp_path)
