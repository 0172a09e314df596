"""Ports for local services: below the kernel's ephemeral range, never twice, never one
another process of ours holds; a service that finds its port taken starts again."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from stkpi_tools.localstack import ports
from stkpi_tools.localstack.ports import (
    LOOPBACK,
    _ephemeral_range,
    free_port,
    held_ports,
    release_ports,
)
from stkpi_tools.localstack.process import (
    PORT_ATTEMPTS,
    PortInUse,
    Service,
    ServiceError,
    spawn,
    start_on_fresh_ports,
    tcp_open,
)


def test_free_ports_are_listenable_distinct_and_below_the_ephemeral_range() -> None:
    lo, _hi = _ephemeral_range()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50  # handed out once each, even if released meanwhile
    # Outgoing connections take source ports from [lo, hi]: none of ours is there.
    assert all(1024 <= p < lo for p in ports), (lo, ports)
    for port in ports[:5]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, port))  # still free: nothing holds it after the pick


def test_a_port_something_listens_on_is_never_handed_out() -> None:
    lo, _hi = _ephemeral_range()
    held = []
    try:
        # Occupy a block of the range free_port draws from; it must step around them.
        for port in range(max(1024, lo - 12000), max(1024, lo - 12000) + 300):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind((LOOPBACK, port))
                sock.listen()
                held.append(sock)
            except OSError:
                sock.close()
        taken = {s.getsockname()[1] for s in held}
        assert not taken & {free_port() for _ in range(100)}
    finally:
        for sock in held:
            sock.close()


class _Scripted:
    """Stands in for the port generator: hands out ``first`` in order, then random ones."""

    def __init__(self, first: list[int]) -> None:
        self.first = list(first)
        self.fallback = ports._PORTS

    def randrange(self, lo: int, hi: int) -> int:
        return self.first.pop(0) if self.first else self.fallback.randrange(lo, hi)


def _holder(count: int) -> tuple[subprocess.Popen[str], list[int]]:
    """Another process of ours (a second test worker) that picks ``count`` ports and keeps
    them until its stdin closes."""
    code = (
        "import sys; from stkpi_tools.localstack.ports import free_port\n"
        f"print(' '.join(str(free_port()) for _ in range({count})), flush=True)\n"
        "sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    return child, [int(p) for p in child.stdout.readline().split()]


def _reservable_elsewhere(port: int) -> bool:
    code = f"from stkpi_tools.localstack import ports; print(ports._reserve({port}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


def test_a_port_another_process_picked_is_not_handed_out_until_it_exits(monkeypatch) -> None:
    # The failure this prevents: two test workers start stacks side by side, both pick
    # port N (nothing listens on it yet), and the second service to bind it dies with
    # "Address already in use". The other process picked `theirs` and has not bound them.
    child, theirs = _holder(3)
    try:
        assert len(theirs) == 3
        monkeypatch.setattr(ports, "_PORTS", _Scripted(theirs))
        mine = free_port()
        assert mine not in theirs  # each of theirs was offered first and refused
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)
    # Its reservations die with it: the ports can be taken again.
    assert all(ports._reserve(p) for p in theirs)
    release_ports(theirs)


def test_released_ports_are_free_for_other_processes_but_not_reissued_here() -> None:
    port = free_port()
    assert port in held_ports()
    assert not _reservable_elsewhere(port)
    release_ports([port])
    assert port not in held_ports()
    assert _reservable_elsewhere(port)
    assert port not in {free_port() for _ in range(50)}  # never twice in one process


def _python_service(tmp_path: Path, code: str, port: int, **kwargs) -> Service:
    return spawn(
        "probe", [sys.executable, "-c", code], port=port, log_dir=tmp_path,
        ready=lambda: tcp_open(port), timeout=20, **kwargs,
    )  # fmt: skip


def test_stopping_a_service_releases_every_port_it_was_given(tmp_path: Path) -> None:
    port, extra = free_port(), free_port()
    code = (
        "import socket, time; s = socket.socket(); "
        f"s.bind(('{LOOPBACK}', {port})); s.listen(); time.sleep(60)"
    )
    service = _python_service(tmp_path, code, port, extra_ports={"grpc": extra})
    assert {port, extra} <= held_ports()
    service.stop(grace=2)
    assert not {port, extra} & held_ports()


def test_a_service_that_cannot_bind_its_port_raises_port_in_use(tmp_path: Path) -> None:
    port = free_port()
    code = f"import socket; socket.socket().bind(('{LOOPBACK}', {port}))"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        # Something bound it between the pick and the start (not listening: a listener
        # would answer the readiness probe in the service's place).
        squatter.bind((LOOPBACK, port))
        with pytest.raises(PortInUse, match="exited with status 1"):
            _python_service(tmp_path, code, port)
    # A start that fails for another reason is not a port clash, even in the same log
    # file after one (only what this start wrote counts).
    with pytest.raises(ServiceError) as failed:
        _python_service(tmp_path, "raise SystemExit('bad config')", free_port())
    assert not isinstance(failed.value, PortInUse)


def test_a_start_that_finds_its_port_taken_is_made_again_and_gives_up_in_the_end() -> None:
    calls: list[int] = []

    @start_on_fresh_ports
    def flaky(clashes: int) -> Service:
        calls.append(1)
        if len(calls) <= clashes:
            raise PortInUse("address already in use")
        return Service(name="ok", port=1, pid=0, log_path=Path("ok.log"))

    assert flaky(PORT_ATTEMPTS - 1).name == "ok"
    assert len(calls) == PORT_ATTEMPTS  # each clash was tried again, on new ports

    calls.clear()
    with pytest.raises(PortInUse):
        flaky(PORT_ATTEMPTS)
    assert len(calls) == PORT_ATTEMPTS  # bounded: a port that is never free fails

    @start_on_fresh_ports
    def broken() -> Service:
        calls.append(1)
        raise ServiceError("bad config")

    calls.clear()
    with pytest.raises(ServiceError):
        broken()
    assert len(calls) == 1  # only a port clash is retried
