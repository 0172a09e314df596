"""A window's fetch ends before its function does (stkpi.fetch): every request and its
retries end within a request timeout after the fetch's budget, and before the delivery's
own deadline when the runtime set one (stkpi.deadline), whichever comes first.

The real client against the scripted transport and fake clock of test_client_http (no
sockets, no sleeping), with an API that is down: the retries would go on for minutes
without a deadline. The context holds only what the fetch touches before its first page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from test_client_http import FakeTime, make
from test_client_secrets import down, timed

from stkpi import deadline
from stkpi.fetch import fetch_window
from stkpi.messages import WindowMessage
from stkpi.servicetitan import FetchError, RetryPolicy

WINDOW = WindowMessage(
    run_id="daily-20250818T000000Z",
    entity="jobs",
    window_id="w1",
    start=datetime(2025, 8, 11, tzinfo=UTC),
    end=datetime(2025, 8, 18, tzinfo=UTC),
)
# The same window read from the jobs' export feed (stkpi.fetch_export), from a token.
EXPORT = WINDOW.model_copy(update={"export": True, "continue_from": "t1"})
WINDOWS = pytest.mark.parametrize("window", [WINDOW, EXPORT], ids=["list", "export"])
# ServiceTitan's defaults: 100 s per request; long backoffs and more retries than the
# time holds, so only the deadline can end the request.
BUDGET, REQUEST_TIMEOUT = 480.0, 100.0
POLICY = RetryPolicy(backoff_base=20, backoff_max=100, max_attempts=1000)


class _NoLanding:
    def exists(self, name: str) -> bool:  # no earlier delivery split this window
        return False


def _fetch_against_an_api_that_is_down(
    window: WindowMessage, delivery_seconds: float | None = None
) -> tuple[FakeTime, list[tuple[float, float]]]:
    """Run ``fetch_window`` on ``window`` (the clock starts at 0) until it fails, in a delivery with
    ``delivery_seconds`` left (as stkpi.runtime sets it, on the context's clock); each
    API request as (sent at, its timeout)."""
    client, adapter, t = make(
        down,
        policy=POLICY,
        fetch_time_budget_seconds=BUDGET,
        st_request_timeout_seconds=REQUEST_TIMEOUT,
    )
    sent = timed(adapter, t)
    ctx = SimpleNamespace(
        settings=client._settings, servicetitan=client, monotonic=t.clock, landing=_NoLanding()
    )
    token = deadline.start(delivery_seconds, t.clock)
    try:
        with pytest.raises(FetchError, match="out of time"):
            fetch_window(window, ctx)  # type: ignore[arg-type]
    finally:
        deadline.reset(token)
    return t, [(at, timeout) for which, at, timeout in sent if which == "api"]


@WINDOWS
def test_without_a_delivery_deadline_requests_end_a_request_timeout_after_the_budget(window):
    t, sent = _fetch_against_an_api_that_is_down(window)
    end = BUDGET + REQUEST_TIMEOUT
    assert t.now <= end and all(at + timeout <= end for at, timeout in sent)
    # It kept trying while time was left: past the budget, into the last request timeout.
    assert max(at for at, _ in sent) > BUDGET - POLICY.backoff_max


@WINDOWS
def test_a_delivery_deadline_sooner_than_the_budget_ends_the_requests_first(window):
    # The function has 200 s left of its timeout: budget + request timeout (580 s) would
    # outlive it.
    t, sent = _fetch_against_an_api_that_is_down(window, delivery_seconds=200.0)
    assert sent and t.now <= 200.0 and all(at + timeout <= 200.0 for at, timeout in sent)
