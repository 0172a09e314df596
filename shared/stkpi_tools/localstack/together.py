"""Start or stop several local services (or servers in one process) at once.

A stack's services mostly wait: on a JVM or an interpreter to import, on a port to open, on
a SIGTERM grace period. One after another, a stack took ~24 s to start and ~14 s to stop,
most of it in waits that overlap freely; the test suite starts a dozen stacks. Starting
side by side changes nothing the services see: each still gets its own ports (the
machine-wide reservation in ``stkpi_tools.localstack.ports``) and its own log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

from stkpi_tools.localstack.process import Service


def start_together(
    starters: Mapping[str, Callable[[], Service]], keep: Callable[[str, Service], object]
) -> dict[str, Service]:
    """Run every starter at once; hand each service that started to ``keep`` (so whoever
    owns the services can stop them) before raising the first failure, in the order given.

    Every starter is waited for even when one fails: a service left starting in the
    background would belong to nobody."""
    if not starters:
        return {}
    with ThreadPoolExecutor(max_workers=len(starters), thread_name_prefix="start") as pool:
        futures = {name: pool.submit(start) for name, start in starters.items()}
    started: dict[str, Service] = {}
    failure: BaseException | None = None
    for name, future in futures.items():
        error = future.exception()
        if error is None:
            started[name] = future.result()
            keep(name, started[name])
        elif failure is None:
            failure = error
    if failure is not None:
        raise failure
    return started


def at_once(calls: Iterable[Callable[[], object]]) -> None:
    """Run every call in its own thread and return when all have returned; a call that
    raises does not keep the others from running (each is a best-effort stop)."""
    calls = list(calls)
    if not calls:
        return
    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="at-once") as pool:
        for future in [pool.submit(call) for call in calls]:
            future.exception()


def stop_together(services: Iterable[Service]) -> None:
    """Stop every service at once (each: SIGTERM, its grace period, SIGKILL); returns when
    all are gone. A failure to stop one does not keep the others running."""
    at_once(service.stop for service in services)
