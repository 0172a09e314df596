"""The tenant's clock: the one place the pipeline asks what time it is in the tenant's world.

"Now" decides which windows a daily run plans, which weeks and months the marts'
validations judge, and which week the report calls the current one. In the cloud that is
the wall clock. On the local stack the tenant is the simulator, whose clock stands still
until a test or the demo moves it (a tenant generated for 2025-10-01 has no records after
it): if the pipeline counted weeks back from the wall clock, the weeks it judged would hold
no records at all, and its verdict would change with the hour it runs. So the local stack
sets ``TENANT_CLOCK_URL`` to the simulator's clock endpoint, and every part reads "now"
from there (``tenant_clock``); the cloud leaves it unset.

What is not the tenant's time stays on the machine's clock (``wall_clock``): lease
heartbeats, event timestamps, ingestion times and the age of the pipeline's own runs
(a window stuck for two hours is stuck for two real hours, whatever the tenant's date).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import requests

from stkpi.errors import ConfigError, StkpiError

Clock = Callable[[], datetime]

# A clock endpoint answers at once; a slow one is a broken one, not one to wait for.
CLOCK_TIMEOUT_SECONDS = 10.0


def wall_clock() -> datetime:
    """The machine's time, UTC."""
    return datetime.now(UTC)


class ClockError(StkpiError):
    """The tenant's clock could not be read (the simulator stopped, a malformed answer)."""


class HttpClock:
    """The tenant's present as a clock endpoint answers it: ``GET url`` -> ``{"now": ISO}``.

    Read on every call, never cached: the simulator's clock jumps when it is moved, and a
    plan made after the jump must see it."""

    def __init__(self, url: str, session: requests.Session | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"TENANT_CLOCK_URL must start with http:// or https://: {url!r}")
        self.url = url
        self._session = session or requests.Session()

    def __call__(self) -> datetime:
        try:
            resp = self._session.get(self.url, timeout=CLOCK_TIMEOUT_SECONDS)
            resp.raise_for_status()
            text = resp.json()["now"]
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise ClockError(f"the tenant clock at {self.url} did not answer: {exc}") from None
        return parse_instant(text, source=self.url)

    def __repr__(self) -> str:
        return f"HttpClock({self.url!r})"


def parse_instant(text: str, *, source: str) -> datetime:
    """An ISO-8601 instant with a zone (``Z`` or an offset), as UTC."""
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ClockError(f"{source}: {text!r} is not an ISO-8601 time") from None
    if value.tzinfo is None:
        raise ClockError(f"{source}: {text!r} has no time zone")
    return value.astimezone(UTC)


def tenant_clock(url: str | None) -> Clock:
    """The tenant's clock: the endpoint at ``url`` (``TENANT_CLOCK_URL``), else the wall
    clock."""
    return HttpClock(url) if url else wall_clock


def fixed_clock(instant: datetime) -> Clock:
    """A clock that always reads ``instant`` (tests, replays with ``--as-of``)."""
    if instant.tzinfo is None:
        raise ValueError("a fixed clock needs a timezone-aware instant")
    return lambda: instant
