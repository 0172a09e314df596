"""Error types shared across the library.

The split matters to the functions: a ``PermanentError`` can never succeed on retry (the
message is logged and dead-lettered), anything else is transient and re-raised so Pub/Sub
redelivers.
"""

from __future__ import annotations


class StkpiError(Exception):
    """Base for every error the library raises on purpose."""


class ConfigError(StkpiError):
    """Settings are missing or malformed; the message lists every problem at once."""


class PermanentError(StkpiError):
    """Retrying cannot help (bad message, unknown entity, reversed window)."""


class BadMessageError(PermanentError):
    """A Pub/Sub message did not parse or failed its schema."""
