"""CI runs the README's commands, and between them every test runs exactly once.

`./dev test` leaves out the chaos marker and `./dev test-chaos` runs only it, over
`tests/chaos`; a lab moved out of that folder or a test marked chaos elsewhere would fall
between the two, so both directions are checked here. `.ci/run` itself is run with a
stand-in `dev` to prove it fails when either command fails and always runs both.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"


def _readme_block_after(heading_words: str) -> str:
    """The first fenced code block after the paragraph that contains ``heading_words``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    at = text.index(heading_words)
    block = re.search(r"```\n(.*?)```", text[at:], re.S)
    assert block, f"no code block after {heading_words!r} in README.md"
    return block.group(1).strip()


def test_ci_runs_the_readme_test_command_then_the_chaos_labs() -> None:
    test_cmd = _readme_block_after("Run the tests")
    chaos_cmd = _readme_block_after("The two chaos labs")
    assert (test_cmd, chaos_cmd) == ("./dev test", "./dev test-chaos")
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_cmd in lines and chaos_cmd in lines
    assert lines.index(test_cmd) < lines.index(chaos_cmd)


def _marks_chaos(path: Path) -> bool:
    """True when the module names ``pytest.mark.chaos`` anywhere: in ``pytestmark`` or on a
    single test, either of which puts it in `./dev test-chaos` and out of `./dev test`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "chaos":
            base = node.value
            if isinstance(base, ast.Attribute) and base.attr == "mark":
                return True
    return False


def test_every_chaos_lab_is_marked_and_nothing_else_is() -> None:
    chaos_dir = TESTS / "chaos"
    labs = sorted(chaos_dir.glob("test_*.py"))
    assert labs, "no lab under tests/chaos"
    unmarked = [p.name for p in labs if not _marks_chaos(p)]
    assert not unmarked, f"labs `./dev test-chaos` would skip (no chaos mark): {unmarked}"
    elsewhere = [
        str(p.relative_to(ROOT))
        for p in TESTS.rglob("test_*.py")
        if chaos_dir not in p.parents and _marks_chaos(p)
    ]
    assert not elsewhere, f"chaos-marked tests neither command runs: {elsewhere}"


@pytest.fixture
def ci_copy(tmp_path: Path) -> Path:
    """``.ci/run`` beside a stand-in ``dev`` that records its calls and exits with the code
    the environment gives each command."""
    (tmp_path / ".ci").mkdir()
    shutil.copy2(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    dev = tmp_path / "dev"
    dev.write_text(
        "#!/usr/bin/env bash\n"
        'echo "$1" >> calls.txt\n'
        'case "$1" in test) exit "${SUITE_EXIT}" ;; test-chaos) exit "${LABS_EXIT}" ;; esac\n'
        "exit 99\n"
    )
    dev.chmod(0o755)
    return tmp_path


@pytest.mark.parametrize(
    ("suite", "labs", "passes"),
    [(0, 0, True), (1, 0, False), (0, 1, False), (5, 0, False), (2, 3, False)],
)
def test_ci_fails_when_either_command_fails_and_always_runs_both(
    ci_copy: Path, suite: int, labs: int, passes: bool
) -> None:
    env = {**os.environ, "SUITE_EXIT": str(suite), "LABS_EXIT": str(labs)}
    proc = subprocess.run(
        ["bash", str(ci_copy / ".ci" / "run")], cwd=ci_copy, env=env, capture_output=True,
        text=True, timeout=30,
    )  # fmt: skip
    assert (proc.returncode == 0) is passes, proc.stdout + proc.stderr
    assert (ci_copy / "calls.txt").read_text().split() == ["test", "test-chaos"]
    assert f"exit {suite}" in proc.stdout and f"exit {labs}" in proc.stdout
