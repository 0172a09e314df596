"""Integration fixtures."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.server import SimHandle, running_simulator


@pytest.fixture
def simulator() -> Iterator[SimHandle]:
    """A fresh ServiceTitan simulator (scale 0.002, seed 42) on 127.0.0.1, stopped after.

    Steer it with ``simulator.set_faults(...)``, ``.advance(hours)``; compare with
    ``.snapshot(entity)``; point the pipeline at it with ``.env()``.
    """
    with running_simulator(SimConfig()) as handle:
        yield handle


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    """A simulator without rate limiting, shared by a module's tests (a module may
    override it with a config of its own); ``clean_sim`` resets it around a test."""
    with running_simulator(SimConfig(rate_limit_per_second=10_000)) as handle:
        yield handle


@pytest.fixture
def clean_sim(sim: SimHandle) -> Iterator[SimHandle]:
    sim.reset()
    yield sim
    sim.reset()


@pytest.fixture
def dataset(bq_emulator) -> Iterator[str]:
    """A BigQuery dataset of its own (``project.name``) on the session's emulator, deleted
    with its tables after the test."""
    client = bq_emulator.client
    name = f"t_{uuid.uuid4().hex[:8]}"
    client.create_dataset(f"{bq_emulator.project}.{name}")
    yield f"{bq_emulator.project}.{name}"
    client.delete_dataset(f"{bq_emulator.project}.{name}", delete_contents=True, not_found_ok=True)


@pytest.fixture(scope="module")
def crash_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty crash-point file, one per module: a test arms a point by writing its name
    (``stkpi.crashpoints``); the crash consumes it."""
    path = tmp_path_factory.mktemp("crash") / "armed"
    path.write_text("")
    return path


@pytest.fixture(scope="module")
def tenant_stack(tmp_path_factory, bq_emulator, gcs_emulator, pubsub_emulator):
    """A local stack (functions behind their front doors, push) on the session's emulators,
    names of its own, whose simulator serves three tenants: the default 1000 and
    ``pipeline_harness.ADDED_TENANTS`` (2000 in Los Angeles, 3000 smaller), their secrets
    in ``ST_SECRETS_DIR``; register them with ``tenant_stack.add_all()``
    (``pipeline_harness.TenantStack``)."""
    from pipeline_harness import multi_tenant_stack

    emulators = {"gcs": gcs_emulator.service, "bigquery": bq_emulator.service,
                 "pubsub": pubsub_emulator.service}  # fmt: skip
    root = tmp_path_factory.mktemp("tenant-stack")
    with multi_tenant_stack(root, emulators, f"mt{uuid.uuid4().hex[:4]}") as stack:
        yield stack
