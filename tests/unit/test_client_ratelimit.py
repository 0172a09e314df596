"""Token bucket timing, driven by a fake clock so no test waits on the wall clock."""

from __future__ import annotations

import threading

import pytest

from stkpi.servicetitan.ratelimit import TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_bucket_paces_requests_at_the_rate():
    t = FakeTime()
    bucket = TokenBucket(10, clock=t.clock, sleep=t.sleep)
    start = t.now
    for _ in range(21):
        bucket.acquire()
    # first request free (full bucket of 1), then one every 0.1 s
    assert t.now - start == pytest.approx(2.0)
    assert all(s == pytest.approx(0.1) for s in t.sleeps)


def test_bucket_allows_a_burst_then_paces():
    t = FakeTime()
    bucket = TokenBucket(5, burst=5, clock=t.clock, sleep=t.sleep)
    for _ in range(5):
        assert bucket.acquire() == 0
    assert bucket.acquire() == pytest.approx(0.2)


def test_idle_time_refills_but_never_beyond_burst():
    t = FakeTime()
    bucket = TokenBucket(2, burst=2, clock=t.clock, sleep=t.sleep)
    bucket.acquire()
    bucket.acquire()
    t.now += 3600  # a long idle period must not bank an hour of requests
    assert bucket.acquire() == 0
    assert bucket.acquire() == 0
    assert bucket.acquire() == pytest.approx(0.5)


def test_slow_requests_do_not_wait():
    t = FakeTime()
    bucket = TokenBucket(10, clock=t.clock, sleep=t.sleep)
    for _ in range(5):
        assert bucket.acquire() == 0
        t.now += 0.25  # each request takes longer than the pacing interval
    assert t.sleeps == []


def test_concurrent_reservations_get_distinct_slots():
    t = FakeTime()
    bucket = TokenBucket(4, clock=t.clock, sleep=t.sleep)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        w = bucket.reserve()  # clock frozen: each caller must get a later slot
        with lock:
            waits.append(w)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(waits) == pytest.approx([i * 0.25 for i in range(8)])
    assert bucket.waited_seconds == pytest.approx(sum(i * 0.25 for i in range(8)))


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0.5)])
def test_bucket_rejects_nonsense(rate, burst):
    with pytest.raises(ValueError):
        TokenBucket(rate, burst=burst)
