"""Chaos lab 1: backfills under API faults, poison messages, capacity, deletes."""

from __future__ import annotations

from pathlib import Path

import pytest
from chaos_suite import BACKFILL_LAB, run_lab

pytestmark = [pytest.mark.chaos, pytest.mark.integration]


def test_no_loss_no_duplicates_one_rebuild_under_backfill_faults(tmp_path: Path) -> None:
    run_lab(BACKFILL_LAB, tmp_path)
