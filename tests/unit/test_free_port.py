"""Ports for local services come from below the kernel's ephemeral range, never twice."""

from __future__ import annotations

import socket

from stkpi_tools.localstack.process import LOOPBACK, _ephemeral_range, free_port


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
