"""Typed fetch errors that say what failed (entity, window, page) and never leak secrets.

The split follows ``stkpi.errors``: ``FetchError`` is transient (retries were exhausted;
Pub/Sub redelivery may well succeed later), while ``AuthError`` and
``RequestRejectedError`` are also ``PermanentError`` because repeating the same request
with the same credentials cannot change the answer.

Every message is built by the client and passed through a redactor that knows the client
id, client secret, app key and every token issued, so a message, a log line or a
dead-letter record can be shared without scrubbing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from stkpi.errors import PermanentError, StkpiError
from stkpi.windows import iso_z

REDACTED = "***"


@dataclass(frozen=True)
class Target:
    """What a request was for, in the words an operator needs to find it again."""

    entity: str
    start: datetime | None = None
    end: datetime | None = None
    page: int | None = None
    continue_from: str | None = None
    export: bool = False

    def describe(self) -> str:
        parts = [self.entity]
        if self.export:
            parts.append(f"export from {self.continue_from!r}")
        elif self.start is not None and self.end is not None:
            parts.append(f"window [{iso_z(self.start)}, {iso_z(self.end)})")
        elif not self.export:
            parts.append("full list")
        if self.page is not None:
            parts.append(f"page {self.page}")
        return " ".join(parts)


class FetchError(StkpiError):
    """A request failed after the retry policy gave up (transient: redelivery may succeed)."""

    def __init__(self, target: Target, reason: str, *, status: int | None = None) -> None:
        self.target = target
        self.reason = reason
        self.status = status
        super().__init__(f"ServiceTitan fetch failed: {target.describe()}: {reason}")


class MalformedPageError(FetchError):
    """A response body was not the documented page shape (truncated, not JSON, wrong types)."""

    def __init__(self, target: Target, reason: str, *, snippet: str = "") -> None:
        self.detail = reason
        self.snippet = snippet
        text = f"malformed page: {reason}"
        if snippet:
            text += f"; body starts {snippet!r}"
        super().__init__(target, text)


class AuthError(FetchError, PermanentError):
    """Credentials or app key were refused (token endpoint said no, or 401 after a refresh)."""


class RequestRejectedError(FetchError, PermanentError):
    """The API refused the request itself (4xx other than 401/429): retrying cannot help."""


class Redactor:
    """Replaces known secret values in text; tokens are added as they are issued."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if not secret:
            return
        with self._lock:
            # Longest first, so a secret containing another is replaced whole.
            merged = {*self._secrets, secret}
            self._secrets = tuple(sorted(merged, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text
