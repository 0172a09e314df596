"""Token-bucket rate limiting per (app key, tenant), like the real API's 60 requests/s."""

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
