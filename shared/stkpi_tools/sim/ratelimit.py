"""Rate limits: a token bucket per (app key, tenant), like the real API's 60 requests/s, and
the Reporting API's "same report at most once a minute per tenant"."""

from __future__ import annotations

import math
import threading
import time


class RateLimiter:
    """One bucket per key; capacity = one second's worth of requests (at least 1)."""

    def __init__(self, per_second: float) -> None:
        self.per_second = float(per_second)
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: tuple[str, str]) -> int:
        """0 when the request may proceed, else the whole seconds to wait (>= 1)."""
        if self.per_second <= 0:
            return 0
        capacity = max(1.0, self.per_second)
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * self.per_second)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.per_second))

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


class ReportLimiter:
    """At most one call of the same report per ``interval`` seconds per tenant."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = float(interval)
        self._last: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()

    def acquire(self, tenant: str, report: int) -> int:
        """0 when the call may proceed, else whole seconds until it may (>= 1)."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get((tenant, report))
            if last is not None and now - last < self.interval:
                return max(1, math.ceil(self.interval - (now - last)))
            self._last[(tenant, report)] = now
            return 0

    def reset(self) -> None:
        with self._lock:
            self._last.clear()
