"""Windows sized by record count: when a window splits, and the run's windows after splits.

A backfill plans a few coarse windows per entity (``WINDOW_DAYS``, 10 years by default),
because the planner cannot know where a tenant's records are: only the fetch step talks to
ServiceTitan. The fetch of a window reads its first page, whose ``totalCount`` says how
many records the window holds; above ``target`` (``WINDOW_TARGET_PAGES`` full pages) the
window does not page on but splits into children of equal time spans, sized so that each
holds about half the target if records were spread evenly, and hands them to the run. A
child that is still too big (records are not spread evenly: tenants grow) splits again.
So no window is near-empty (a coarse window of a sparse entity is one request) or
oversized, whatever the tenant's shape, and ``--window-days`` needs no tuning.

Children are a pure function of the parent and its count, their ids are their bounds, and
the split is recorded once (``control/runs/R/split/...``, first writer wins): a
redelivered or twin fetch of the parent finds the record and hands on the same children
instead of splitting again with a count that moved. The run's windows are then the plan's
windows with every split window replaced, in place, by its children (``expand``); its
leaves are what must be loaded before the run's MERGEs and rebuild.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from stkpi.messages import WindowMessage
from stkpi.windows import Window

MIN_CHILD_SPAN = timedelta(seconds=1)  # the API's time filters have whole seconds


def children_count(count: int, target: int) -> int:
    """How many children a window of ``count`` records splits into: enough that each
    holds about half the target on average, so an uneven spread rarely needs a second
    split (each costs one wasted first page)."""
    return max(2, math.ceil(2 * count / target))


def split(msg: WindowMessage, count: int, target: int) -> list[WindowMessage]:
    """The children of ``msg`` given its ``count``, or ``[]`` when it must not split
    (small enough, or too short to cut into whole seconds)."""
    if count <= target:
        return []
    k = children_count(count, target)
    start, end = msg.start.astimezone(UTC), msg.end.astimezone(UTC)
    step = (end - start) / k
    bounds = [start] + [_whole_second(start + step * i) for i in range(1, k)] + [end]
    spans = [Window(lo, hi) for lo, hi in pairwise(bounds) if hi - lo >= MIN_CHILD_SPAN]
    if len(spans) < 2:
        return []
    return [
        WindowMessage(
            run_id=msg.run_id,
            entity=msg.entity,
            window_id=span.window_id,
            start=span.start,
            end=span.end,
            target_pages=msg.target_pages,
            scan=msg.scan,
        )
        for span in spans
    ]


def _whole_second(ts: datetime) -> datetime:
    return ts.replace(microsecond=0)


def marker(window: WindowMessage) -> str:
    return f"{window.entity}/{window.window_id}"


def expand(
    windows: Sequence[WindowMessage], splits: Mapping[str, Sequence[WindowMessage]]
) -> list[WindowMessage]:
    """The run's windows in order, each split window followed in place by its children
    (recursively). ``splits`` maps a window's marker to its recorded children."""
    out: list[WindowMessage] = []
    stack = list(reversed(windows))
    while stack:
        window = stack.pop()
        out.append(window)
        stack.extend(reversed(splits.get(marker(window), ())))
    return out


def leaves(
    windows: Sequence[WindowMessage], splits: Mapping[str, Sequence[WindowMessage]]
) -> list[WindowMessage]:
    """The windows whose pages are loaded: every window that did not split."""
    return [w for w in expand(windows, splits) if marker(w) not in splits]
