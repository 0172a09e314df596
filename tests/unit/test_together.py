"""Starting and stopping a stack's services side by side (``stkpi_tools.localstack.together``).

Each test's starters or stops meet at a barrier that only opens when all of them are running
at the same moment: one after another, the first would wait out the barrier's timeout and
break it, so the tests fail if the work is serialised again.
"""

from __future__ import annotations

import threading

import pytest

from stkpi_tools.localstack.together import start_together, stop_together


class FakeService:
    """Stands in for ``Service``: only ``stop`` is used by ``stop_together``."""

    def __init__(self, name: str, barrier: threading.Barrier, fail: bool = False) -> None:
        self.name, self.barrier, self.fail = name, barrier, fail
        self.stopped = False

    def stop(self) -> None:
        self.barrier.wait()
        self.stopped = True
        if self.fail:
            raise RuntimeError(f"{self.name} would not stop")


def test_every_starter_runs_at_once_and_every_service_is_kept() -> None:
    barrier = threading.Barrier(3, timeout=5)
    kept: list[str] = []

    def starter(name: str):
        return lambda: (barrier.wait(), FakeService(name, barrier))[1]

    started = start_together({n: starter(n) for n in ("gcs", "bigquery", "pubsub")},
                             lambda name, svc: kept.append(name))  # fmt: skip
    assert sorted(started) == ["bigquery", "gcs", "pubsub"]
    assert [s.name for s in started.values()] == list(started)  # each under its own name
    assert sorted(kept) == sorted(started)


def test_a_failed_start_is_raised_after_the_others_are_kept_for_stopping() -> None:
    barrier = threading.Barrier(3, timeout=5)
    kept: list[str] = []

    def ok(name: str):
        return lambda: (barrier.wait(), FakeService(name, barrier))[1]

    def broken() -> FakeService:
        barrier.wait()
        raise RuntimeError("pubsub: port in use")

    starters = {"gcs": ok("gcs"), "pubsub": broken, "bigquery": ok("bigquery")}
    with pytest.raises(RuntimeError, match="pubsub: port in use"):
        start_together(starters, lambda name, svc: kept.append(name))
    assert sorted(kept) == ["bigquery", "gcs"]  # nothing that started is left unowned


def test_nothing_to_start_or_stop_is_a_no_op() -> None:
    assert start_together({}, lambda name, svc: pytest.fail("nothing was started")) == {}
    stop_together([])


def test_services_stop_at_once_and_one_that_fails_does_not_keep_the_others() -> None:
    barrier = threading.Barrier(3, timeout=5)
    services = [
        FakeService("gate", barrier, fail=True),
        FakeService("fn-load_batch", barrier),
        FakeService("pubsub", barrier),
    ]
    stop_together(services)
    assert all(s.stopped for s in services)
