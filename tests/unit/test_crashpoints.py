"""Crash points fire once, where armed, and only when their conditions hold."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from stkpi.crashpoints import ArmedPoint, InjectedCrash, crash_point


@pytest.fixture
def crash_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "armed"
    monkeypatch.setenv("STKPI_CRASH_FILE", str(path))
    return path


def test_an_armed_point_raises_once_and_disarms(crash_file: Path) -> None:
    crash_file.write_text("load.after_merge\nfetch.after_pages\n")
    crash_point("load.after_load_job")  # not armed: passes
    with pytest.raises(InjectedCrash):
        crash_point("load.after_merge")
    crash_point("load.after_merge")  # fired already: passes
    assert crash_file.read_text() == "fetch.after_pages\n"


def test_conditions_must_all_hold(crash_file: Path) -> None:
    crash_file.write_text("fetch.after_page page=2 entity=jobs\n")
    crash_point("fetch.after_page", page=1, entity="jobs")
    crash_point("fetch.after_page", page=2, entity="invoices")
    with pytest.raises(InjectedCrash):
        crash_point("fetch.after_page", page=2, entity="jobs")
    assert crash_file.read_text() == ""


def test_no_file_means_no_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STKPI_CRASH_FILE", str(tmp_path / "absent"))
    crash_point("load.after_merge")
    monkeypatch.delenv("STKPI_CRASH_FILE")
    crash_point("load.after_merge")


def test_kill_ends_the_process_with_sigkill(crash_file: Path) -> None:
    crash_file.write_text("kill load.after_merge\n")
    code = (
        "from stkpi.crashpoints import crash_point; crash_point('load.after_merge'); print('alive')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL
    assert "alive" not in done.stdout
    assert crash_file.read_text() == ""  # disarmed before dying: the redelivery passes


@pytest.mark.parametrize("line", ["", "kill", "fetch.after_page page"])
def test_malformed_lines_are_named(line: str) -> None:
    with pytest.raises(ValueError, match="crash file line"):
        ArmedPoint.parse(line)
