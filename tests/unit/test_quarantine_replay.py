"""The replay of quarantined records (``stkpi quarantine --replay``, the hostile-API tests):
one backfill per entity over the windows its records were read in, never past now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stkpi.quarantine import OpenRecord, replay_plans

NOW = datetime(2025, 10, 1, 12, tzinfo=UTC)


def _record(entity: str, start=None, end=None, *, scan=False, modified_on=None) -> OpenRecord:
    return OpenRecord(
        entity=entity, record_key="1", reason="a lone surrogate", run_id="r", window_id="w",
        window_start=start, window_end=end, scan=scan, modified_on=modified_on,
        quarantined_at=NOW, copied_at=None,
    )  # fmt: skip


def test_one_backfill_per_entity_over_the_windows_its_records_were_read_in() -> None:
    day = timedelta(days=1)
    records = [
        _record("jobs", NOW - 9 * day, NOW - 8 * day),
        _record("jobs", NOW - 3 * day, NOW + day),  # a window past now: cut to now
        # A key scan's window is by createdOn: the record's own modifiedOn, one second.
        _record("estimates", NOW - 60 * day, NOW, scan=True, modified_on='"2025-09-02T08:00:00Z"'),
        _record("invoices", scan=True, modified_on="2099-01-01T00:00:00Z"),  # future: the next
        _record("customers", scan=True, modified_on="not a time"),  # key scan reads these
    ]
    plans = replay_plans(records, NOW, lambda n: f"replay-{n}")
    # Sorted by entity, numbered in that order; the jobs span joins its two windows.
    at = datetime(2025, 9, 2, 8, tzinfo=UTC)
    assert [(p.run_id, p.entities, p.start, p.end) for p in plans] == [
        ("replay-0", ["estimates"], at, at + timedelta(seconds=1)),
        ("replay-1", ["jobs"], NOW - 9 * day, NOW),
    ]
    assert all(p.run_type == "backfill" and p.end <= NOW for p in plans)
