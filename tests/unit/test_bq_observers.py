"""The local BigQuery leaves out only the request observers, and only on the audited version."""

from __future__ import annotations

from types import SimpleNamespace

import bqemulator
import pytest
from bqemulator.api.app import create_app
from bqemulator.config import Settings
from bqemulator.observability.metrics import MetricsRegistry

from stkpi_tools.localstack.bq_observers import (
    AUDITED_VERSION,
    dropped,
    leaner,
    log_level,
)


def _names(app) -> list[str]:
    return [m.cls.__name__ for m in app.user_middleware]


def _context() -> SimpleNamespace:
    return SimpleNamespace(settings=Settings(), metrics=MetricsRegistry())


def test_the_audit_holds_for_the_pinned_version_and_its_middleware() -> None:
    # Read on 1.4.0: of the four layers, only GzipRequestMiddleware changes what a route
    # sees (it inflates gzipped bodies); the others count, tag and log. A new version or a
    # new layer must be read again before it is left out (then update AUDITED_VERSION).
    assert bqemulator.__version__ == AUDITED_VERSION
    assert sorted(_names(create_app(_context()))) == [
        "AccessLogMiddleware",
        "CorrelationIdMiddleware",
        "GzipRequestMiddleware",
        "MetricsMiddleware",
    ]


@pytest.mark.parametrize(
    ("level", "kept"),
    [
        ("warning", ["GzipRequestMiddleware"]),
        ("error", ["GzipRequestMiddleware"]),
        # the access log is what STKPI_BQ_LOG_LEVEL=info is asked for: it stays
        ("info", ["GzipRequestMiddleware", "AccessLogMiddleware"]),
        ("DEBUG", ["GzipRequestMiddleware", "AccessLogMiddleware"]),
    ],
)
def test_only_the_observers_are_left_out(level: str, kept: list[str]) -> None:
    app = leaner(create_app, dropped(level))(_context())
    assert _names(app) == kept


@pytest.mark.parametrize(
    ("argv", "env", "level"),
    [
        (["start", "--rest-port", "1", "--log-level", "warning", "--ephemeral"], {}, "warning"),
        (["start", "--log-level=debug"], {"BQEMU_LOG_LEVEL": "error"}, "debug"),  # flag first
        (["start", "--ephemeral"], {"BQEMU_LOG_LEVEL": "error"}, "error"),
        (["start", "--ephemeral"], {}, "info"),  # bqemulator's own default
        (["start", "--log-level"], {}, "info"),  # no value: bqemulator's CLI refuses it
    ],
)
def test_the_log_level_is_read_as_bqemulator_reads_it(
    argv: list[str], env: dict[str, str], level: str
) -> None:
    assert log_level(argv, env) == level
