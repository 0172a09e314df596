"""Child processes of the local stack: process groups, readiness, logs (ports: ``ports``).

Every service runs in its own process group (``start_new_session=True``) because the
launchers leave children behind (``gcloud`` starts java, functions-framework starts
gunicorn workers): stopping means signalling the whole group, never a process by name.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec

from stkpi.errors import StkpiError
from stkpi_tools.localstack.ports import LOOPBACK, release_ports

log = logging.getLogger(__name__)
P = ParamSpec("P")
PORT_ATTEMPTS = 3  # a start that finds its port taken is tried on new ports this often


class ServiceError(StkpiError):
    """A local service did not start (or stop) in time; the message names its log file."""


class PortInUse(ServiceError):
    """A service could not bind a port it was given: something took it after the pick.
    Starting it again on new ports is safe (``start_on_fresh_ports``)."""


# What each of our services prints when its bind fails: Python (OSError 98, uvicorn),
# Java (BindException), Go (fake-gcs), gunicorn ("Connection in use"), gRPC.
_BIND_FAILURES = (
    "address already in use",
    "connection in use",
    "failed to bind",
    "cannot bind",
)


def tcp_open(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str) -> bool:
    """True when ``url`` answers with any status below 500."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (OSError, ValueError):
        return False


def pgid_alive(pgid: int) -> bool:
    """True while any process of the group ``pgid`` exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap(pgid: int) -> None:
    """Collect the group leader if it is our exited child (a zombie still 'exists')."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pgid, os.WNOHANG)


def kill_group(pgid: int, *, grace: float = 10.0) -> None:
    """SIGTERM the process group, wait up to ``grace`` seconds, then SIGKILL it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(pgid)
        if not pgid_alive(pgid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        _reap(pgid)
        if not pgid_alive(pgid):
            return
        time.sleep(0.05)


# Groups started by this process and not yet stopped: killed at interpreter exit so a
# crashed test session or CLI never leaves emulators behind (detached stacks opt out).
_OWNED: set[int] = set()


@atexit.register
def _kill_owned() -> None:
    for pgid in list(_OWNED):
        kill_group(pgid, grace=3)
        _OWNED.discard(pgid)


@dataclass
class Service:
    """One running service: its process group, port, log file and client environment."""

    name: str
    port: int
    pid: int
    log_path: Path
    env_vars: dict[str, str] = field(default_factory=dict)
    extra_ports: dict[str, int] = field(default_factory=dict)
    data_dir: Path | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment variables a client process needs to reach this service."""
        return dict(self.env_vars)

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return pgid_alive(self.pid)

    def stop(self, grace: float = 10.0) -> None:
        """Stop the whole process group (idempotent)."""
        kill_group(self.pid, grace=grace)
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=5)
        _OWNED.discard(self.pid)
        release_ports([self.port, *self.extra_ports.values()])

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    log_dir: Path,
    ready: Callable[[], bool],
    timeout: float,
    env: Mapping[str, str] | None = None,
    client_env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    detached: bool = False,
    extra_ports: Mapping[str, int] | None = None,
) -> Service:
    """Start ``argv`` in a new session, log to ``<log_dir>/<name>.log``, wait for ``ready``.

    On timeout or early exit the group is killed and ``ServiceError`` names the log file.
    ``detached`` services are not killed when this Python process exits.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    full_env = {**os.environ, **(env or {})}
    with open(log_path, "ab") as log:
        offset = log.tell()
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
        )
    service = Service(
        name=name,
        port=port,
        pid=popen.pid,
        log_path=log_path,
        env_vars=dict(client_env or {}),
        extra_ports=dict(extra_ports or {}),
        popen=popen,
    )
    if not detached:
        _OWNED.add(popen.pid)
    deadline = time.monotonic() + timeout
    while True:
        code = popen.poll()
        if code is not None:
            service.stop(grace=1)
            raise _start_error(log_path, offset)(
                f"{name} exited with status {code} during start; log: {log_path}\n"
                + service.log_tail()
            )
        if ready():
            return service
        if _start_error(log_path, offset) is PortInUse:  # a JVM may hang on after it
            service.stop(grace=1)
            raise PortInUse(
                f"{name} could not bind its port during start; log: {log_path}\n"
                + service.log_tail()
            )
        if time.monotonic() > deadline:
            service.stop(grace=2)
            raise _start_error(log_path, offset)(
                f"{name} not ready on port {port} after {timeout:.0f}s; log: {log_path}\n"
                + service.log_tail()
            )
        time.sleep(0.2)


def read_log_from(path: Path, offset: int) -> str:
    """What a log holds from byte ``offset`` on (what one start wrote); "" if unreadable."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")
    except OSError:
        return ""


def _start_error(log_path: Path, offset: int) -> type[ServiceError]:
    """``PortInUse`` when what this start wrote to its log (from ``offset``) says a bind
    failed, else ``ServiceError``."""
    said = read_log_from(log_path, offset).lower()
    return PortInUse if any(marker in said for marker in _BIND_FAILURES) else ServiceError


def start_on_fresh_ports(start: Callable[P, Service]) -> Callable[P, Service]:
    """Wrap a starter that picks its ports with ``free_port``: when the service finds one
    taken (``PortInUse``), start it again, picking new ports, up to ``PORT_ATTEMPTS`` times."""

    @functools.wraps(start)
    def starter(*args: P.args, **kwargs: P.kwargs) -> Service:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                return start(*args, **kwargs)
            except PortInUse as exc:
                if attempt == PORT_ATTEMPTS:
                    raise
                log.warning("port taken, starting again on new ports: %s", str(exc)[:300])
        raise AssertionError("unreachable")

    return starter


def group_pids(pgid: int) -> list[int]:
    """Live processes of one process group (Linux ``/proc``), leader first."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after ")"
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            found.append(int(entry.name))
    return sorted(found, key=lambda p: (p != pgid, p))


def memory_kib(pid: int) -> dict[str, int]:
    """Current (VmRSS) and peak (VmHWM) resident memory of one process, in KiB."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out["rss" if key == "VmRSS" else "peak"] = int(value.split()[0])
    except OSError:
        pass
    return out


def serve_until_signalled(
    argv: Sequence[str] | None, start: Callable[[dict], list[Callable[[], None]]]
) -> None:
    """The ``main`` of the stack's own helper processes (front doors, dispatcher): read the
    JSON config named on the command line, log at INFO, ``start(config)``, and on SIGTERM
    or SIGINT call the stop functions it returned, in order."""
    args = sys.argv[1:] if argv is None else argv
    config = json.loads(Path(args[0]).read_text())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stoppers = start(config)
    stop.wait()
    for stop_one in stoppers:
        stop_one()
