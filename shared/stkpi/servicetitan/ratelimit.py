"""A per-instance token bucket: the client's share of the tenant's request budget.

DESIGN invariant 7: one bucket per function instance times ``max_instances`` stays under
the tenant's limit, so 429s are the exception rather than the flow control. The bucket
reserves a slot under a lock and sleeps outside it, so threads sharing one client queue
in order without holding the lock while they wait. Clock and sleep are injected so the
timing is unit-tested without wall time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` requests per second on average, at most ``burst`` back to back.

    The default burst of 1 paces requests evenly (one every ``1/rate`` s): a server that
    counts requests per sliding second never sees more than ``rate`` from us, which a
    larger burst cannot promise. Throughput is unchanged because a slow request leaves
    its unused slot in the bucket.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._updated = clock()
        self.waited_seconds = 0.0

    def reserve(self) -> float:
        """Take one slot and return how long the caller must wait before using it.

        Tokens may go negative: each waiting caller owns a later slot, which is what
        keeps concurrent callers in order and the long-run rate exact.
        """
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._updated = now
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
            self.waited_seconds += wait
            return wait

    def acquire(self) -> float:
        """Block until a request may be sent; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait
