"""The tenant's clock (stkpi.clock): where "now" is read, and what a broken clock says."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from stkpi.clock import ClockError, HttpClock, fixed_clock, tenant_clock, wall_clock
from stkpi.config import load_settings
from stkpi.context import PipelineContext
from stkpi.errors import ConfigError

SETTINGS = {
    "ST_API_BASE_URL": "http://127.0.0.1:9",
    "ST_AUTH_URL": "http://127.0.0.1:9",
    "GCP_PROJECT": "p",
    "LANDING_BUCKET": "bucket",
}


@contextmanager
def clock_server(body: bytes, status: int = 200) -> Iterator[str]:
    """A clock endpoint on 127.0.0.1 answering ``body``; its URL; stopped after."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/_sim/clock"
    finally:
        server.shutdown()
        server.server_close()


def test_the_tenant_clock_is_read_from_tenant_clock_url() -> None:
    with clock_server(json.dumps({"now": "2025-10-01T12:00:00Z"}).encode()) as url:
        ctx = PipelineContext(load_settings({**SETTINGS, "TENANT_CLOCK_URL": url}))
        assert ctx.tenant_now() == datetime(2025, 10, 1, 12, tzinfo=UTC)
        # Read on every call, never cached: a clock the simulator moves is seen moved.
        assert HttpClock(url)() == ctx.tenant_now()


def test_without_a_clock_url_the_tenant_clock_is_the_wall_clock() -> None:
    ctx = PipelineContext(load_settings(SETTINGS))
    before = wall_clock()
    assert before <= ctx.tenant_now() <= wall_clock()
    assert tenant_clock(None) is wall_clock


def test_a_given_clock_wins() -> None:
    pinned = datetime(2026, 12, 7, 16, tzinfo=UTC)
    ctx = PipelineContext(load_settings(SETTINGS), clock=fixed_clock(pinned))
    assert ctx.tenant_now() == pinned


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b'{"now": "yesterday"}', 200, "'yesterday' is not an ISO-8601 time"),
        (b'{"now": "2025-10-01T12:00:00"}', 200, "has no time zone"),
        (b'{"time": "2025-10-01T12:00:00Z"}', 200, "did not answer"),
        (b"<html>", 200, "did not answer"),
        (b'{"now": "2025-10-01T12:00:00Z"}', 503, "did not answer"),
    ],
)
def test_a_broken_clock_is_named(body: bytes, status: int, says: str) -> None:
    with clock_server(body, status) as url, pytest.raises(ClockError, match=says) as err:
        HttpClock(url)()
    assert url in str(err.value)


def test_a_stopped_clock_is_named() -> None:
    with clock_server(b"{}") as url:
        pass  # stopped on leaving
    with pytest.raises(ClockError, match="did not answer"):
        HttpClock(url)()


def test_a_malformed_clock_url_is_a_settings_error() -> None:
    with pytest.raises(ConfigError, match="TENANT_CLOCK_URL: Value error, must start with http"):
        load_settings({**SETTINGS, "TENANT_CLOCK_URL": "127.0.0.1:8080/_sim/clock"})
    with pytest.raises(ValueError, match="timezone-aware"):
        fixed_clock(datetime(2025, 1, 1))
