"""Cut a raw MERGE into statements BigQuery accepts: few enough tables and partitions each.

BigQuery refuses a DML statement that writes more than 4,000 partitions of a table, and a
query that references more than 1,000 tables (or is longer than 1,024K characters). One
MERGE per entity per run (``stkpi.entity_merge``) is right for a daily run, but a backfill
of twelve years of history, or the weekly key scan over every ``createdOn`` since 2000,
writes a partition per day of data: so the windows' staging tables are merged in groups
of at most ``TABLES_PER_MERGE``, and each group a slice of partition days at a time
(``partition_slices``). The MERGE writes only rows whose version changed
(``sql/stage/merge_raw.sql``), so a slice writes at most its own days; a slice holds at
most ``PARTITIONS_PER_MERGE`` of them, which leaves room for the days that rows whose
business date was edited leave behind (a slice of the batch's days cannot see those).
Every statement is idempotent and keeps the latest version of a key whatever the order,
so a batch cut in pieces ends exactly as one statement would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

PARTITIONS_PER_MERGE = 3000
# Each staging table is a SELECT of ~100 characters in the UNION ALL: 500 keep a statement
# at about 50K characters and half BigQuery's 1,000 tables per query.
TABLES_PER_MERGE = 500

T = TypeVar("T")


@dataclass(frozen=True)
class Slice:
    """The rows of a batch whose partition day is in ``[lo, hi]``; both None: the rows
    without a value (BigQuery's NULL partition). ``Slice.ALL`` is a batch not sliced (an
    entity without a partition field)."""

    lo: date | None
    hi: date | None
    whole: bool = False

    def source_filter(self, field: str | None) -> str:
        """SQL keeping a staged row of this slice (``field`` unqualified)."""
        if self.whole or field is None:
            return "TRUE"
        if self.lo is None:
            return f"{field} IS NULL"
        return f"DATE({field}) BETWEEN DATE '{self.lo}' AND DATE '{self.hi}'"

    def target_prune(self, field: str) -> str:
        """SQL pruning raw (``T``) to the partitions this slice's keys can be in, for an
        immutable partition field: its days, and rows without a value, which lie in no
        range but must still be matched (or their key would be inserted again). The rows
        without a day may match a key anywhere: no prune."""
        if self.whole or self.lo is None:
            return ""
        return (
            f"AND (T.{field} IS NULL OR DATE(T.{field}) "
            f"BETWEEN DATE '{self.lo}' AND DATE '{self.hi}')"
        )


WHOLE = Slice(None, None, whole=True)


def partition_slices(days: Iterable[date | None], limit: int = PARTITIONS_PER_MERGE) -> list[Slice]:
    """Consecutive slices of a batch's partition ``days`` (None: rows without one), each
    holding at most ``limit`` of them; the rows without a day are a slice of their own."""
    seen = list(days)
    present = sorted({d for d in seen if d is not None})
    out = [
        Slice(chunk[0], chunk[-1])
        for chunk in (present[i : i + limit] for i in range(0, len(present), limit))
    ]
    if any(d is None for d in seen):
        out.append(Slice(None, None))
    return out


def groups(items: Sequence[T], size: int = TABLES_PER_MERGE) -> list[Sequence[T]]:
    """``items`` in consecutive groups of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]
