"""Token cache: refresh margin, single refresh under concurrency, targeted invalidation."""

from __future__ import annotations

import threading
import time

import pytest

from stkpi.servicetitan.auth import TokenCache, refresh_margin


@pytest.mark.parametrize(
    ("ttl", "margin"), [(900, 60), (3600, 60), (100, 10), (10, 1), (0, 0), (-5, 0)]
)
def test_refresh_margin_is_60s_or_10_percent_of_short_ttls(ttl, margin):
    assert refresh_margin(ttl) == pytest.approx(margin)


class Issuer:
    def __init__(self, ttl: float = 900, delay: float = 0.0) -> None:
        self.ttl = ttl
        self.delay = delay
        self.count = 0

    def __call__(self) -> tuple[str, float]:
        time.sleep(self.delay)
        self.count += 1
        return f"tok-{self.count}", self.ttl


def test_concurrent_callers_share_one_refresh():
    issuer = Issuer(delay=0.05)
    cache = TokenCache(issuer)
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(cache.get())) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert got == ["tok-1"] * 8 and issuer.count == 1


def test_invalidate_only_drops_the_refused_token():
    now = [0.0]
    issuer = Issuer()
    cache = TokenCache(issuer, clock=lambda: now[0])
    assert cache.get() == "tok-1"
    cache.invalidate("tok-1")
    assert cache.get() == "tok-2"
    cache.invalidate("tok-1")  # a second thread's stale 401 must not force another refresh
    assert cache.get() == "tok-2"
    assert cache.refreshes == 2


def test_token_lifetime_counts_from_before_the_request():
    now = [0.0]

    def slow_issuer() -> tuple[str, float]:
        now[0] += 5  # the token request itself takes 5 s
        return "tok", 100

    new_tokens: list[str] = []
    cache = TokenCache(slow_issuer, clock=lambda: now[0], on_new_token=new_tokens.append)
    cache.get()
    now[0] = 89.9  # 0 + 100 - 10 margin = 90
    cache.get()
    assert cache.refreshes == 1
    now[0] = 90.0
    cache.get()
    assert cache.refreshes == 2
    assert new_tokens == ["tok", "tok"]


def test_failed_refresh_leaves_no_token_behind():
    calls = iter([RuntimeError("auth down"), ("tok-ok", 900)])

    def flaky() -> tuple[str, float]:
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        return item

    cache = TokenCache(flaky)
    with pytest.raises(RuntimeError):
        cache.get()
    assert cache.get() == "tok-ok"
