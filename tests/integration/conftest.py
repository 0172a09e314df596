"""Integration fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stkpi.sim.config import SimConfig
from stkpi.sim.server import SimHandle, running_simulator


@pytest.fixture
def simulator() -> Iterator[SimHandle]:
    """A fresh ServiceTitan simulator (scale 0.002, seed 42) on 127.0.0.1, stopped after.

    Steer it with ``simulator.set_faults(...)``, ``.advance(hours)``; compare with
    ``.snapshot(entity)``; point the pipeline at it with ``.env()``.
    """
    with running_simulator(SimConfig()) as handle:
        yield handle
