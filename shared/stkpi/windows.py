"""Window maths: cut a time range into half-open ``[start, end)`` windows.

Half-open windows tile a range with no gap and no overlap, so a record whose cursor sits
exactly on a boundary is fetched by exactly one window. Window ids are deterministic (the
entity and the window's bounds), so a replanned or replayed window lands on the same GCS
prefix and the same BigQuery job ids instead of creating a second copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from stkpi.errors import PermanentError


@dataclass(frozen=True, order=True)
class Window:
    start: datetime
    end: datetime

    @property
    def window_id(self) -> str:
        return f"{fmt_compact(self.start)}_{fmt_compact(self.end)}"


def fmt_compact(ts: datetime) -> str:
    """``20250818T000000Z``: sortable, path-safe, unambiguous UTC."""
    return ts.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def iso_z(ts: datetime) -> str:
    """ISO-8601 UTC with ``Z``, the only time format sent to ServiceTitan."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(text: str) -> datetime:
    """Parse ISO-8601 (``Z`` or offset); a naive value is taken as UTC."""
    ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def cut(start: datetime, end: datetime, days: int) -> list[Window]:
    """Split ``[start, end)`` into consecutive windows of at most ``days`` days."""
    if start.tzinfo is None or end.tzinfo is None:
        raise PermanentError("window bounds must be timezone-aware")
    if end <= start:
        raise PermanentError(f"empty or reversed range: start {iso_z(start)} >= end {iso_z(end)}")
    if days < 1:
        raise PermanentError(f"window size must be at least 1 day, got {days}")
    step = timedelta(days=days)
    out: list[Window] = []
    cursor = start.astimezone(UTC)
    stop = end.astimezone(UTC)
    while cursor < stop:
        nxt = min(cursor + step, stop)
        out.append(Window(cursor, nxt))
        cursor = nxt
    return out
