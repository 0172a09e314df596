"""The README walk: "Using it" run as a new user would, command by command, in order.

The commands are read from README.md's "Using it" code block at test time, so the test
breaks when the README promises something the tool does not do. Each runs in its own
process, exactly as written except for two substitutions:

- ``./dev stkpi`` becomes this interpreter's CLI (``./dev`` only bootstraps the virtualenv
  this test already runs in);
- the working directory is a fresh temporary "project folder" instead of the checkout
  (``./dev`` changes to the project folder): the stack's run dir (``.stkpi/stack``) and
  ``kpi-report.html`` land there, no developer's ``.env`` or running stack is seen, and
  nothing of the checkout is written.

The environment is the test process's minus every setting the README does not tell the
user to set (emulator hosts, ServiceTitan and GCP settings, STKPI_*): what the commands
need, they must find themselves (``local up`` records the stack, the others read it).

Around the README's commands, the same stack session also checks what ``local up``
promises: the services alive, ``local env`` exports the operator's endpoints, a second
``up`` refused with exit 2, and ``local down`` stopping exactly the recorded process groups.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from stkpi_tools.localstack import StackInfo
from stkpi_tools.localstack.process import pgid_alive

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; from stkpi_tools.cli import main; sys.argv[0] = 'stkpi'; main()"
NOT_FROM_THE_README = ("ST_", "REPORT_", "GCP_", "LANDING_", "BQ_", "STKPI_", "PUBSUB_")

# Problems seen on the walk that belong to code this test does not own: the step's output
# must contain the signature; the walk then ends as xfail naming it. An entry whose
# signature no longer appears fails the test, so this list only shrinks.
KNOWN_ISSUES: dict[str, str] = {}


def readme_walk() -> list[str]:
    """The command lines of README.md's "Using it" code block, in order (comments dropped)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Using it\n(.*?)^#", text, flags=re.S | re.M)
    assert section, "README.md has no '## Using it' section"
    block = re.search(r"^```\n(.*?)^```", section.group(1), flags=re.S | re.M)
    assert block, "README.md's 'Using it' has no code block"
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    commands = [line for line in lines if line]
    assert all(c.startswith("./dev stkpi ") for c in commands), commands
    return commands


def _user_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(NOT_FROM_THE_README) and not k.endswith("_EMULATOR_HOST")
    }


def _stkpi(args: list[str], *, cwd: Path, env: dict, timeout: float = 300):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-c", CLI, *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


# --- what each README command promises ----------------------------------------------------


def _ok(out: str) -> str | None:
    return None


def _rebuilt(out: str) -> str | None:
    return None if re.search(r": rebuilt\b", out) else "the run did not report 'rebuilt'"


def _status(out: str) -> str | None:
    jobs = re.search(r"\bjobs\s+│\s+(\d+)", out)
    if not jobs or int(jobs.group(1)) == 0:
        return "status shows no jobs in raw after the backfill"
    return None if "dead letters: 0" in out else "status shows dead letters"


def _validate(out: str) -> str | None:
    """The simulated tenant is healthy: the walk ends GREEN, judged as of the simulator's
    clock (the weeks and months before 2025-10-01 that the backfill copied)."""
    overall = re.search(r"overall (GREEN|YELLOW|RED)", out)
    if not overall:
        return "no overall GREEN/YELLOW/RED line"
    return None if overall.group(1) == "GREEN" else f"validate is {overall.group(1)}, not GREEN"


def _explain(out: str) -> str | None:
    """The README's example cell is in the marts and has records behind it."""
    if "kpi_leads Phoenix-Sales week of 2025-08-18" not in out:
        return "no KPI cell shown"
    if "no rows" in out:
        return "explain printed 'no rows' (the cell or its records are missing)"
    value = re.search(r"│\s*2025-08-18\s*│[^\n]*?│\s*(\d+(?:\.\d+)?)\s*│", out)
    return None if value and float(value.group(1)) > 0 else "the cell's value is not above 0"


def _dead_letters(out: str) -> str | None:
    return None if "Dead letters (0 waiting)" in out else "dead letters waiting"


PROMISES: dict[str, Callable[[str], str | None]] = {
    "backfill": _rebuilt,
    "daily": _rebuilt,
    "status": _status,
    "validate": _validate,
    "explain": _explain,
    "dead-letters": _dead_letters,
}


def _expected_exit(argv: list[str], out: str) -> set[int]:
    """0, except validate: 0 GREEN, YELLOW 0 (1 with --strict), RED 2 (its exit doc); and
    reconcile: 1 when a difference is unexplained."""
    if argv[0] == "validate":
        overall = re.search(r"overall (GREEN|YELLOW|RED)", out)
        verdict = overall.group(1) if overall else None
        return {"RED": {2}, "YELLOW": {1 if "--strict" in argv else 0}}.get(verdict, {0})
    if argv[0] == "reconcile" and argv[1:2] != ["discover"]:  # 1 when a cell is unexplained
        return {1} if re.search(r"\bunexplained\b", out) else {0}
    return {0}


def _not_green(out: str) -> str:
    """The rows of validate's table that are not GREEN (a check's row spans several lines),
    and the overall line: what a failed walk must show, not the table's last lines."""
    kept: list[str] = []
    keep = False
    for line in out.splitlines():
        status = re.match(r"│ (GREEN|YELLOW|RED)\s", line)
        if status:
            keep = status.group(1) != "GREEN"
        if keep or line.startswith("overall"):
            kept.append(line)
    return "\n".join(kept)


@dataclass
class Walk:
    """Each step's verdict; the walk goes on after a failed step so the stack is stopped
    by the README's own `local down` and every problem is reported at once."""

    failures: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)

    def check(self, line: str, proc: subprocess.CompletedProcess) -> None:
        argv = shlex.split(line)[2:]
        command = argv[0]
        out = proc.stdout + proc.stderr
        problems = []
        if proc.returncode not in _expected_exit(argv, out):
            problems.append(f"exit {proc.returncode}")
        if "Traceback (most recent call last)" in out:
            problems.append("an internal traceback instead of a message")
        if (promise := PROMISES.get(command, _ok)(out)) is not None:
            problems.append(promise)
        if not problems:
            return
        shown = _not_green(out) if command == "validate" else out[-3000:]
        report = f"{line}\n  -> {'; '.join(problems)}\n{shown}"
        signature = KNOWN_ISSUES.get(command)
        if signature and signature in " ".join(out.split()):
            self.known.append(f"{command}: {signature}")
        else:
            self.failures.append(report)


# --- the walk ------------------------------------------------------------------------------


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _sim_serve(line: str, *, cwd: Path, env: dict, walk: Walk) -> None:
    """`sim serve` runs until interrupted: it must listen on the README's port, answer a
    token request with the credentials it prints, and stop cleanly on Ctrl-C."""
    args = shlex.split(line)[2:]
    port = int(args[args.index("--port") + 1])
    if not _port_free(port):  # another program holds the README's port on this machine
        pytest.fail(f"port {port} of README's `{line}` is in use on 127.0.0.1; free it")
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout or ()], daemon=True)
    reader.start()
    try:
        exports: dict[str, str] = {}
        deadline = time.monotonic() + 120
        while "ST_APP_KEY" not in exports and proc.poll() is None:
            try:
                out_line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if out_line.startswith("export "):
                key, _, value = out_line[len("export ") :].strip().partition("=")
                exports[key] = value
        if "ST_APP_KEY" not in exports:
            walk.failures.append(f"{line}\n  -> never printed its settings (exit {proc.poll()})")
            return
        token = requests.post(
            f"{exports['ST_AUTH_URL']}/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": exports["ST_CLIENT_ID"],
                "client_secret": exports["ST_CLIENT_SECRET"],
            },
            timeout=10,
        )
        if exports.get("ST_API_BASE_URL") != f"http://127.0.0.1:{port}" or not token.ok:
            walk.failures.append(f"{line}\n  -> {exports} token {token.status_code}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, as in a terminal
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            walk.failures.append(
                f"{line}\n  -> still running 30 s after Ctrl-C: {_signals(proc.pid)}"
            )
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    reader.join(timeout=10)  # the pipe closes with the process
    rest = "".join(lines.get() for _ in range(lines.qsize()))
    if proc.returncode != 0 or "Traceback" in rest:
        walk.failures.append(f"{line}\n  -> exit {proc.returncode} on Ctrl-C\n{rest[-2000:]}")


def _signals(pid: int) -> str:
    """The process's ignored and blocked signal masks (why a Ctrl-C did not stop it)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError as exc:
        return f"no /proc status ({exc})"
    return " ".join(ln for ln in status if ln.startswith(("SigIgn", "SigBlk", "State")))


def test_readme_using_it_walk(tmp_path: Path) -> None:
    commands = readme_walk()
    names = [" ".join(shlex.split(c)[2:4]) for c in commands]
    assert names[0] == "local up" and "local down" in names, names
    env = _user_env()
    root = tmp_path / ".stkpi" / "stack"  # `local up`'s default run dir, in the project folder
    walk = Walk()
    info: StackInfo | None = None
    up = None
    try:
        for line in commands:
            args = shlex.split(line)[2:]
            if args[:2] == ["sim", "serve"]:
                _sim_serve(line, cwd=tmp_path, env=env, walk=walk)
                continue
            started = time.monotonic()
            proc = _stkpi(args, cwd=tmp_path, env=env)
            print(f"{time.monotonic() - started:6.1f}s  {line}")  # shown with -s: the walk's pace
            walk.check(line, proc)
            if args[:2] == ["local", "up"]:
                up = proc
                # nothing after it can run: say why it failed, not that stack.json is missing
                assert not walk.failures, "README walk, `local up`:\n\n" + "\n".join(walk.failures)
                info = StackInfo.load(root)
                _local_up_promises(info, cwd=tmp_path, env=env)
            if args[:2] == ["local", "down"] and info is not None:
                assert not any(pgid_alive(pid) for pid in info.pids.values())
                assert not (root / "stack.json").exists()
                info = None
    finally:
        if info is not None:  # the walk broke before the README's `local down`
            info.stop()
    assert up is not None
    assert (tmp_path / "kpi-report.html").read_text().lstrip().lower().startswith("<!doctype")
    assert not walk.failures, "README 'Using it' walk:\n\n" + "\n\n".join(walk.failures)
    stale = [c for c in KNOWN_ISSUES if not any(k.startswith(f"{c}:") for k in walk.known)]
    assert not stale, f"known issues no longer seen, remove them from KNOWN_ISSUES: {stale}"
    if walk.known:
        pytest.xfail("known issues on the README walk: " + "; ".join(walk.known))


def _local_up_promises(info: StackInfo, *, cwd: Path, env: dict) -> None:
    """What `local up` promises beyond exit 0: alive, exportable, exclusive."""
    assert all(info.alive().values()), info.alive()
    exports = _stkpi(["local", "env"], cwd=cwd, env=env)
    assert exports.returncode == 0, exports.stderr
    # the CLI's environment is the operator's: BigQuery through its IAM gate port
    operator_bq = info.env()["BIGQUERY_EMULATOR_HOST"]
    assert f"export BIGQUERY_EMULATOR_HOST={operator_bq}" in exports.stdout
    assert info.iam and operator_bq != info.url("bigquery")
    assert "export ST_API_BASE_URL=" in exports.stdout
    again = _stkpi(["local", "up"], cwd=cwd, env=env)
    assert again.returncode == 2 and "already running" in again.stderr
    assert "Traceback" not in again.stderr


_CELL = (
    "kpi_leads Phoenix-Sales week of 2025-08-18\n"
    "│ week_start │ bu            │ region │ value │ numerator │ denominator │\n"
    "│ 2025-08-18 │ Phoenix-Sales │ PHX    │ {value}     │ {value}         │             │"
)


@pytest.mark.parametrize(
    ("line", "code", "out", "fails"),
    [
        ("./dev stkpi status", 0, "jobs │ 12 │\ndead letters: 0", False),
        ("./dev stkpi status", 0, "jobs │ 0 │\ndead letters: 0", True),  # nothing loaded
        ("./dev stkpi explain --kpi leads", 0, _CELL.format(value=2) + "\n│ 1 │", False),
        ("./dev stkpi explain --kpi leads", 0, _CELL.format(value=0) + "\n│ 1 │", True),
        ("./dev stkpi explain --kpi leads", 0, _CELL.format(value=2) + "\nrecords: no rows", True),
        ("./dev stkpi daily", 1, "daily-1: rebuilt", True),  # exit 1
        ("./dev stkpi report", 1, "Traceback (most recent call last):\n  boom", True),
        ("./dev stkpi validate", 0, "overall GREEN: 50 GREEN", False),
        ("./dev stkpi validate", 2, "overall RED: 1 RED", True),  # exit right, not GREEN
        ("./dev stkpi validate", 0, "overall RED: 1 RED", True),  # and RED must exit 2
        ("./dev stkpi validate", 1, "overall YELLOW: 1 YELLOW", True),  # 1 needs --strict
        ("./dev stkpi validate --strict", 1, "overall YELLOW: 1 YELLOW", True),
    ],
)
def test_a_step_is_judged_by_its_promise(line: str, code: int, out: str, fails: bool) -> None:
    """The walk's checks can fail: wrong exit codes, tracebacks and broken promises."""
    walk = Walk()
    walk.check(line, subprocess.CompletedProcess([], code, out, ""))
    assert bool(walk.failures) is fails, walk.failures
