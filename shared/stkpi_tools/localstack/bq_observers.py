"""bqemulator without the request observers nobody reads locally.

bqemulator 1.4.0 wraps every REST request in three starlette ``BaseHTTPMiddleware``
layers that only observe it: Prometheus counters, a correlation-id response header and
an access-log line. Each layer runs the request in a task of its own and streams the
response through a memory channel: a ``SELECT 1`` costs the emulator ~10.9 ms of CPU with
them and ~7.5 without (a lab, whose requests are mostly heavier, saves ~4%). The stack
scrapes no metrics and its clients ignore the header; the access log is kept when the
log level would write it (``STKPI_BQ_LOG_LEVEL=info`` or ``debug``). No answer changes:
the emulator's request parsing (``GzipRequestMiddleware``) and routes stay as they are.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

# The version whose middleware was read and found to only observe (metrics, header, log).
AUDITED_VERSION = "1.4.0"
OBSERVERS = ("MetricsMiddleware", "CorrelationIdMiddleware")
ACCESS_LOG = "AccessLogMiddleware"
LOGGING_LEVELS = ("info", "debug")


def dropped(log_level: str) -> frozenset[str]:
    """The middleware class names to leave out at this ``--log-level``."""
    keep_log = log_level.lower() in LOGGING_LEVELS
    return frozenset(OBSERVERS if keep_log else (*OBSERVERS, ACCESS_LOG))


def without(middleware: Iterable[Any], names: frozenset[str]) -> list[Any]:
    """Starlette's ``user_middleware`` entries whose class is not named in ``names``."""
    return [m for m in middleware if m.cls.__name__ not in names]


def leaner(create_app: Callable[[Any], Any], names: frozenset[str]) -> Callable[[Any], Any]:
    """``create_app`` whose app leaves out ``names`` (starlette builds the middleware
    stack at the first request, from ``user_middleware`` as it is then)."""

    def create(context: Any) -> Any:
        app = create_app(context)
        app.user_middleware = without(app.user_middleware, names)
        return app

    return create


def log_level(argv: list[str], env: Mapping[str, str] = os.environ) -> str:
    """The ``--log-level`` bqemulator was started with, else ``BQEMU_LOG_LEVEL``, else
    its default (info)."""
    for i, arg in enumerate(argv):
        if arg == "--log-level" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--log-level="):
            return arg.split("=", 1)[1]
    return env.get("BQEMU_LOG_LEVEL") or "info"


def install(argv: list[str]) -> bool:
    """Apply it in this process (the emulator's, before it builds its app), on the audited
    version only: another may have given these layers a job. Returns whether it did."""
    import bqemulator
    import bqemulator.server as server

    if bqemulator.__version__ != AUDITED_VERSION:
        return False
    server.create_app = leaner(server.create_app, dropped(log_level(argv)))
    return True
