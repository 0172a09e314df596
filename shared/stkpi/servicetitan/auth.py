"""OAuth client-credentials token cache, shared by every thread of one client.

Tokens live 15 minutes in production and expire during long backoffs, so the client asks
the cache for a token on every attempt (not once per fetch) and the cache refreshes a
margin before expiry: 60 s, or 10% of the lifetime for short-lived tokens (tests and the
simulator use TTLs of seconds). A 401 invalidates only the token that was refused, so
threads that saw the same 401 trigger one refresh, not one each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float  # on the cache's clock
    refresh_at: float


def refresh_margin(ttl: float, margin: float = 60.0) -> float:
    """Seconds before expiry to refresh: ``margin``, but at most 10% of a short TTL."""
    return min(margin, max(0.0, ttl) * 0.1)


class TokenCache:
    """Holds the current bearer token; ``fetch`` does the HTTP exchange.

    ``fetch`` returns ``(access_token, expires_in_seconds)`` and raises on failure; the
    client supplies it so that transport, retry and error wording stay in one place.
    """

    def __init__(
        self,
        fetch: Callable[[], tuple[str, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
        margin: float = 60.0,
        on_new_token: Callable[[str], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._margin = margin
        self._on_new_token = on_new_token
        self._lock = threading.Lock()
        self._token: Token | None = None
        self.refreshes = 0

    def get(self) -> str:
        """A token valid for at least the refresh margin, fetching one if needed."""
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.refresh_at:
                token = self._refresh_locked()
            return token.value

    def invalidate(self, value: str) -> None:
        """Forget ``value`` if it is still current (the server refused it)."""
        with self._lock:
            if self._token is not None and self._token.value == value:
                self._token = None

    def invalidate_all(self) -> None:
        """Forget the current token whatever it is (the credentials changed)."""
        with self._lock:
            self._token = None

    def _refresh_locked(self) -> Token:
        started = self._clock()  # count the lifetime from before the request: conservative
        value, ttl = self._fetch()
        if self._on_new_token is not None:
            self._on_new_token(value)
        token = Token(
            value=value,
            expires_at=started + ttl,
            refresh_at=started + ttl - refresh_margin(ttl, self._margin),
        )
        self._token = token
        self.refreshes += 1
        return token
