"""The ServiceTitan client's counters: what its requests cost, for logs and benchmarks.

Kept apart from the transport that counts and the client that reports them, because a
snapshot type is what callers (``stkpi bench``, the fetch logs) depend on, not how the
requests are made.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class ClientStats:
    """Counters for logs and benchmarks (a snapshot; the client keeps counting)."""

    requests: int = 0  # API requests sent (token requests not included)
    retries: int = 0  # waits before a retry, any cause
    throttled: int = 0  # 429 answers
    server_errors: int = 0  # 5xx / 408 answers
    transport_errors: int = 0  # timeouts, dropped connections, broken transfers
    malformed: int = 0  # bodies that failed validation
    unauthorized: int = 0  # 401 answers
    redirects: int = 0  # 3xx answers, never followed (credentials stay with the API)
    credentials_reread: int = 0  # credentials read again after a 401 found them rotated
    token_refreshes: int = 0  # tokens fetched
    pages: int = 0  # pages returned to the caller
    records: int = 0  # records in those pages
    rate_limit_wait_seconds: float = 0.0
    backoff_wait_seconds: float = 0.0


class Counters:
    """Thread-safe named counters (the page threads of one fetch share a client)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: Counter[str] = Counter()

    def add(self, name: str, amount: float = 1) -> None:
        with self._lock:
            self._values[name] += amount

    def snapshot(self, **extra: float) -> ClientStats:
        with self._lock:
            values = {**self._values, **extra}
        return ClientStats(**values)  # type: ignore[arg-type]
