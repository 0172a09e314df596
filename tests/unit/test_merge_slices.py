"""Slices of a raw MERGE (stkpi.merge_slices): each within BigQuery's partitions per
statement, together every day of the batch exactly once."""

from __future__ import annotations

import datetime as dt

from stkpi.merge_slices import WHOLE, Slice, groups, partition_slices

D0 = dt.date(2013, 1, 1)


def _days(n: int) -> list[dt.date]:
    return [D0 + dt.timedelta(days=i) for i in range(n)]


def test_slices_cover_every_day_once_within_the_limit() -> None:
    days = _days(7) * 3  # repeated days count once
    slices = partition_slices(days, limit=3)
    assert slices == [
        Slice(D0, D0 + dt.timedelta(days=2)),
        Slice(D0 + dt.timedelta(days=3), D0 + dt.timedelta(days=5)),
        Slice(D0 + dt.timedelta(days=6), D0 + dt.timedelta(days=6)),
    ]


def test_twelve_years_of_days_take_two_statements_and_a_daily_run_one() -> None:
    assert len(partition_slices(_days(4_550))) == 2  # 3,000 + 1,550
    assert len(partition_slices(_days(8))) == 1
    assert partition_slices([]) == []


def test_rows_without_a_day_are_a_slice_of_their_own_matched_anywhere() -> None:
    slices = partition_slices([None, D0, None])
    assert slices == [Slice(D0, D0), Slice(None, None)]
    nulls = slices[-1]
    assert nulls.source_filter("created_on") == "created_on IS NULL"
    assert nulls.target_prune("created_on") == ""  # no prune: the key may be anywhere


def test_a_slice_prunes_raw_to_its_days_and_keeps_rows_without_a_value() -> None:
    piece = Slice(D0, dt.date(2013, 3, 1))
    assert piece.source_filter("po_date") == (
        "DATE(po_date) BETWEEN DATE '2013-01-01' AND DATE '2013-03-01'"
    )
    assert piece.target_prune("created_on") == (
        "AND (T.created_on IS NULL OR DATE(T.created_on) "
        "BETWEEN DATE '2013-01-01' AND DATE '2013-03-01')"
    )
    assert WHOLE.source_filter("created_on") == "TRUE" and WHOLE.target_prune("x") == ""


def test_staging_tables_go_in_groups_of_at_most_500() -> None:
    tables = [f"t{i}" for i in range(1_201)]
    sizes = [len(g) for g in groups(tables)]
    assert sizes == [500, 500, 201]
    assert [t for g in groups(tables) for t in g] == tables
