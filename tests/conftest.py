"""Shared fixtures: local emulators and the whole local stack, started once per session.

Each fixture stops what it started even when tests fail (fixture finalizers, plus an
atexit net in ``stkpi_tools.localstack.process``). Emulators are shared: the stacks of the
integration tests reuse the ``bq_emulator``/``gcs_emulator``/``pubsub_emulator``
processes (``Stack(reuse=...)``), and their client variables (``*_EMULATOR_HOST``) are
set in ``os.environ`` for the session so ``stkpi.gcp`` clients reach them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from google.cloud import bigquery

from stkpi.config import Settings
from stkpi_tools.localstack import (
    DEFAULT_PROJECT,
    Service,
    start_bigquery,
    start_gcs,
    start_pubsub,
)
from stkpi_tools.localstack.services import gcs_root_of
from stkpi_tools.localstack.settings_env import local_settings_env, settings_from


@contextlib.contextmanager
def _fatal_if_it_dies(service: Service) -> Iterator[Service]:
    """End this test process at once if ``service`` exits before the session stops it.

    The clients' retries would otherwise wait on a dead emulator for many minutes per call
    (bqemulator has been seen to die of SIGSEGV under load): a crashed emulator becomes one
    clear line and a crashed pytest worker (xdist reports its test and starts a fresh worker
    with fresh emulators), not an hour of silence until CI's time limit."""
    stopping = threading.Event()

    def watch() -> None:
        popen = service.popen
        code = popen.wait() if popen is not None else None
        if not stopping.is_set():
            sys.__stderr__.write(
                f"\nFATAL: the {service.name} emulator (pid {service.pid}) exited with "
                f"{code} while tests used it; its log: {service.log_path}\n"
            )
            sys.__stderr__.flush()
            os._exit(70)

    threading.Thread(target=watch, name=f"watch-{service.name}", daemon=True).start()
    try:
        yield service
    finally:
        stopping.set()
        service.stop()


@dataclass
class Emulator:
    """A running emulator with what tests need to talk to it."""

    service: Service
    project: str
    settings: Settings
    env: dict[str, str] = field(default_factory=dict)
    client: object | None = None

    @property
    def url(self) -> str:
        return self.service.url


@dataclass
class BigQueryEmulator(Emulator):
    client: bigquery.Client | None = None  # type: ignore[assignment]
    gcs_root: Path = Path()


@pytest.fixture(scope="session")
def stack_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run dir shared by the session's emulators (logs, fake-gcs filesystem root)."""
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def _session_env() -> Iterator[pytest.MonkeyPatch]:
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The CLI's cache (``stkpi_tools.report_calls``) in the session's temp dir, for the
    CLI runs tests start too, so no test writes to the user's ``~/.cache``."""
    path = tmp_path_factory.mktemp("stkpi-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("STKPI_CACHE_DIR", str(path))
    yield path
    mp.undo()


def _settings(env_extra: dict[str, str]) -> tuple[Settings, dict[str, str]]:
    env = {**local_settings_env(DEFAULT_PROJECT), **env_extra}
    return settings_from(env), env


@pytest.fixture(scope="session")
def bq_emulator(stack_root: Path, _session_env: pytest.MonkeyPatch) -> Iterator[BigQueryEmulator]:
    """bqemulator + an official ``bigquery.Client`` (via ``stkpi.gcp``) + project id.

    Load jobs read ``gs://bucket/path`` from ``fixture.gcs_root / bucket / path`` (the same
    root ``gcs_emulator`` serves).
    """
    from stkpi.gcp import bigquery_client

    with _fatal_if_it_dies(start_bigquery(stack_root, project=DEFAULT_PROJECT)) as service:
        for key, value in service.env().items():
            _session_env.setenv(key, value)
        settings, env = _settings(service.env())
        client = bigquery_client(settings)
        yield BigQueryEmulator(
            service=service,
            project=DEFAULT_PROJECT,
            settings=settings,
            env=env,
            client=client,
            gcs_root=gcs_root_of(stack_root),
        )
        client.close()


@pytest.fixture(scope="session")
def gcs_emulator(stack_root: Path, _session_env: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """fake-gcs-server (filesystem backend at ``<stack_root>/gcs``) + a ``storage.Client``."""
    from stkpi.gcp import storage_client

    with _fatal_if_it_dies(start_gcs(stack_root)) as service:
        for key, value in service.env().items():
            _session_env.setenv(key, value)
        settings, env = _settings(service.env())
        yield Emulator(
            service=service,
            project=DEFAULT_PROJECT,
            settings=settings,
            env=env,
            client=storage_client(settings),
        )


@pytest.fixture(scope="session")
def pubsub_emulator(stack_root: Path, _session_env: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """The gcloud Pub/Sub emulator (``PUBSUB_EMULATOR_HOST`` set for the session)."""
    with _fatal_if_it_dies(start_pubsub(stack_root, project=DEFAULT_PROJECT)) as service:
        for key, value in service.env().items():
            _session_env.setenv(key, value)
        settings, env = _settings(service.env())
        yield Emulator(service=service, project=DEFAULT_PROJECT, settings=settings, env=env)


def pytest_configure(config: pytest.Config) -> None:
    # SIGTERM would end pytest without atexit handlers or fixture teardown: stop the
    # services this process started first, then die of the signal as usual.
    import signal

    from stkpi_tools.localstack.process import _kill_owned

    def _on_term(signum: int, frame: object) -> None:
        _kill_owned()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_term)


# Minutes each, so they start first, one per worker, and the short tests fill in around
# them. pytest-xdist's loadfile otherwise starts the files with the most tests first and
# leaves the few-test end-to-end files for the end, where they run alone (./dev passes
# --no-loadscope-reorder so this order is the one it deals out). The chaos labs run on
# their own (./dev test-chaos); their rank matters only when a run selects them with others.
LONG_FIRST = ("chaos", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        marks = {m.name for m in item.iter_markers()}
        return next((k for k, name in enumerate(LONG_FIRST) if name in marks), len(LONG_FIRST))

    items.sort(key=rank)  # stable: files stay whole and in collection order within a rank


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Belt and braces: nothing the session started may outlive it.
    from stkpi_tools.localstack.process import _kill_owned

    _kill_owned()
