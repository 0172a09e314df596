"""Retry policy: which failures are retried, how long to wait, and when to give up.

Three kinds of transient failure have separate budgets, because they mean different
things: a 5xx / timeout / dropped connection backs off exponentially with full jitter
(many instances retrying in lockstep would hammer a struggling API together); a 429 waits
what the server asked for in ``Retry-After`` and does not use up the error budget
(throttling is flow control, not failure); a malformed body is retried only a couple of
times (a truncated transfer can be transient, a wrong shape is not).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

Kind = Literal["error", "throttled", "malformed"]


@dataclass(frozen=True)
class RetryPolicy:
    """Knobs of the retry loop; tests shrink the backoff so fault runs stay fast."""

    max_attempts: int = 6  # total tries per request for 5xx / transport errors
    backoff_base: float = 1.0  # seconds; the n-th retry waits up to base * 2**(n-1)
    backoff_max: float = 30.0  # cap of one backoff wait
    max_throttled: int = 12  # 429s tolerated per request before giving up
    retry_after_cap: float = 120.0  # never sleep longer than this on one Retry-After
    max_malformed: int = 2  # retries of a malformed body before MalformedPageError

    def budget(self, kind: Kind) -> int:
        """How many failures of ``kind`` one request may see before the client gives up."""
        if kind == "throttled":
            return self.max_throttled
        if kind == "malformed":
            return self.max_malformed + 1
        return self.max_attempts

    def backoff(self, failures: int, rng: random.Random) -> float:
        """Wait after the ``failures``-th failure (1-based): full jitter."""
        return full_jitter(failures, self.backoff_base, self.backoff_max, rng)

    def throttle_wait(self, retry_after: float | None, failures: int, rng: random.Random) -> float:
        """Wait after a 429: the server's ``Retry-After`` (capped), else a backoff."""
        if retry_after is None:
            return self.backoff(failures, rng)
        return min(retry_after, self.retry_after_cap)


def full_jitter(failures: int, base: float, cap: float, rng: random.Random) -> float:
    """Uniform in ``[0, min(cap, base * 2**(failures-1))]`` (AWS "full jitter").

    Spreading waits over the whole interval decorrelates clients that failed together;
    the expected total wait stays half the plain exponential schedule.
    """
    if failures < 1 or base <= 0:
        return 0.0
    ceiling = min(cap, base * 2.0 ** min(failures - 1, 62))
    return rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or None if absent or unreadable.

    The header is delta-seconds (what ServiceTitan sends) or an HTTP-date. Negative or
    garbage values give None so the caller falls back to its own backoff instead of
    trusting nonsense.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
        return max(0.0, seconds)
    if seconds != seconds or seconds < 0 or seconds == float("inf"):  # NaN, negative, inf
        return None
    return seconds
