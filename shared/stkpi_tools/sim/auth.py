"""OAuth client-credentials tokens with a TTL, and revocation for fault injection.

Expiry uses the wall clock (not the tenant's simulated clock): token refresh is about real
elapsed time during a fetch.
"""

from __future__ import annotations

import secrets
import threading
import time


class TokenStore:
    """Issues opaque bearer tokens and says whether one is still valid."""

    def __init__(self, ttl_seconds: int) -> None:
        self.ttl_seconds = int(ttl_seconds)
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        self.issued = 0

    def issue(self) -> tuple[str, int]:
        token = secrets.token_urlsafe(24)
        with self._lock:
            now = time.monotonic()
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + self.ttl_seconds
            self.issued += 1
        return token, self.ttl_seconds

    def valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._tokens.get(token)
        return expiry is not None and expiry > time.monotonic()

    def revoke_all(self) -> None:
        with self._lock:
            self._tokens.clear()
