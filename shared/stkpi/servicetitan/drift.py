"""Catching records that offset paging skips while the result set changes under it.

ServiceTitan pages by offset (``page`` x ``pageSize``). If a record on an earlier page
leaves the filter while a fetch is paging (someone edits it, so its ``modifiedOn`` moves
past the window's end), every later record shifts one slot forward and the record on the
next page boundary is never returned. Records that *enter* mid-fetch cause repeats, which
the MERGE dedupes; skips break the no-loss invariant and must be caught.

Why compare the count *before* and *after* paging, not just "seen vs. count after":
in the skip case the record that left was already seen, so ``seen == count_after``
exactly (10 records, page size 5: read 1-5, record 2 leaves, page 2 returns 7-10;
seen 9, count after 9, and record 6 is lost). A window that ends in the past can only
lose members while it is paged (edits move ``modifiedOn`` to now; ``createdOn`` never
moves), so an unchanged count proves no record left and nothing could shift. The fetcher:

1. ``before = client.window_count(entity, start, end)`` before page 1 (keep it with the
   window if the fetch is split across invocations with ``page_from``);
2. pages the window, counting distinct keys seen;
3. ``after = client.window_count(...)``; if ``paging_may_have_skipped(before, after,
   seen)`` re-read the window (repeats are harmless; bound the re-reads).
"""

from __future__ import annotations


def paging_may_have_skipped(count_before: int | None, count_after: int | None, seen: int) -> bool:
    """True when the window changed during paging, so offset paging may have skipped rows.

    ``seen`` is the number of distinct records returned. A ``None`` count (a server that
    does not report ``totalCount``) gives no evidence; with both unknown this returns
    False, because a re-read could never be verified either and would only loop.
    """
    if count_before is None and count_after is None:
        return False
    if count_before is not None and count_after is not None and count_before != count_after:
        return True
    known = count_after if count_after is not None else count_before
    assert known is not None
    return seen < known
