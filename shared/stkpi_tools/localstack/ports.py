"""TCP ports for local services: picked free, reserved machine-wide until released.

A service is told its port on its command line and binds it a second or more later (a
JVM or a Python interpreter starting). Two things can take the port in that gap:

- an outgoing connection's source port: the kernel draws those from its ephemeral range,
  so ports are picked below it, where only listeners live;
- another process of ours picking the same port for its own stack (two test workers, or a
  test next to ``./dev demo``): each pick holds an advisory lock on a file named after the
  port (``<tmp>/stkpi-ports/<port>``) until the service that got it stops. The kernel drops
  a lock when its holder exits, so a crash never leaves a port reserved.

Anything else that binds in the gap is caught by the service failing to start
(``process.PortInUse``) and started again on new ports.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import socket
import tempfile
from collections.abc import Iterable
from pathlib import Path

from stkpi.errors import StkpiError

LOOPBACK = "127.0.0.1"

_ISSUED: set[int] = set()  # ports this process handed out: never twice
_HELD: dict[int, int] = {}  # port -> descriptor holding its machine-wide reservation
_PORTS = random.Random()  # its own generator: a test seeding `random` must not pin ports


class NoFreePort(StkpiError):
    """Every port tried was listened on or reserved by another process."""


def _ephemeral_range() -> tuple[int, int]:
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def reservation_dir() -> Path:
    """Where the per-port lock files live (shared by every process of every user's run)."""
    return Path(tempfile.gettempdir()) / "stkpi-ports"


def _reserve(port: int) -> bool:
    """Lock ``port``'s file without waiting; False when another process holds it. A
    directory that cannot be written reserves nothing (picking still works, unshared)."""
    try:
        directory = reservation_dir()
        directory.mkdir(mode=0o777, exist_ok=True)
        fd = os.open(directory / str(port), os.O_CREAT | os.O_RDWR, 0o666)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _HELD[port] = fd
    return True


def release_ports(ports: Iterable[int]) -> None:
    """Drop this process's reservation of ``ports`` (their service has stopped); ports
    it does not hold are ignored. The ports are still never handed out twice here."""
    for port in ports:
        fd = _HELD.pop(int(port), None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def held_ports() -> set[int]:
    """Ports this process holds reserved right now."""
    return set(_HELD)


def _listenable(port: int) -> int | None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return None
        return int(sock.getsockname()[1])


def free_port() -> int:
    """A loopback TCP port below the kernel's ephemeral range that nothing listens on and
    no other process has reserved; reserved for this process until ``release_ports``."""
    lo, _hi = _ephemeral_range()
    first = max(1024, lo - 12000)
    if lo - first <= 100:  # a tiny range: let the kernel choose, unreserved
        port = _listenable(0)
        if port is None:
            raise NoFreePort(f"no free TCP port on {LOOPBACK}")
        _ISSUED.add(port)
        return port
    for _ in range(400):
        port = _PORTS.randrange(first, lo)
        if port in _ISSUED or not _reserve(port):
            continue
        if _listenable(port) is None:
            release_ports([port])
            continue
        _ISSUED.add(port)
        return port
    raise NoFreePort(f"no free TCP port on {LOOPBACK} between {first} and {lo}")
