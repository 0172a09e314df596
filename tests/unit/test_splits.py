"""Windows sized by count (stkpi.splits): when a window splits, into what, and the run's
windows after splits. Pure logic: no emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stkpi.messages import WindowMessage
from stkpi.splits import children_count, expand, leaves, marker, split
from stkpi.windows import Window


def _window(start: datetime, end: datetime, entity: str = "jobs") -> WindowMessage:
    return WindowMessage(
        run_id="r1", entity=entity, window_id=Window(start, end).window_id, start=start, end=end
    )


JAN = datetime(2025, 1, 1, tzinfo=UTC)


def test_a_window_at_or_under_the_target_does_not_split() -> None:
    w = _window(JAN, JAN + timedelta(days=365))
    assert split(w, count=125_000, target=125_000) == []
    assert split(w, count=0, target=125_000) == []


def test_children_hold_about_half_the_target_each_if_records_were_even() -> None:
    # 300,000 records over a target of 125,000: 2 x 300,000 / 125,000 = 4.8 -> 5 children
    # of 60,000 each if spread evenly, under half the target's 62,500.
    assert children_count(300_000, 125_000) == 5
    # Just over the target: 2 x 125,001 / 125,000 = 2.00001 -> 3 children of ~41,667.
    assert children_count(125_001, 125_000) == 3
    # Never fewer than 2 (a split into one child would be the parent again).
    assert children_count(10, 125_000) == 2


def test_children_tile_the_parent_with_whole_second_bounds_and_ids_from_their_bounds() -> None:
    # 10 days into 3 children: 3 days 8 hours each; bounds are whole seconds.
    w = _window(JAN, JAN + timedelta(days=10))
    children = split(w, count=150, target=100)  # 2 x 150 / 100 = 3
    assert [(c.start, c.end) for c in children] == [
        (JAN, JAN + timedelta(days=3, hours=8)),
        (JAN + timedelta(days=3, hours=8), JAN + timedelta(days=6, hours=16)),
        (JAN + timedelta(days=6, hours=16), JAN + timedelta(days=10)),
    ]
    assert [c.window_id for c in children] == [Window(c.start, c.end).window_id for c in children]
    assert all(c.run_id == "r1" and c.entity == "jobs" and c.page_from == 1 for c in children)
    # Deterministic: a twin that counts the same splits the same.
    assert split(w, count=150, target=100) == children


def test_a_window_too_short_to_cut_into_whole_seconds_does_not_split() -> None:
    # One second holding a bulk import: children would be shorter than the API's
    # one-second filter resolution, so the window is paged as it is.
    w = _window(JAN, JAN + timedelta(seconds=1))
    assert split(w, count=1_000_000, target=100) == []


def test_uneven_thirds_of_a_second_are_dropped_not_made_empty() -> None:
    # 3 s into 4 pieces: bounds at 0.75 s steps floor to 0, 1, 2 s; the zero-length piece
    # is dropped and the rest still tile the window.
    w = _window(JAN, JAN + timedelta(seconds=3))
    children = split(w, count=200, target=100)  # 4 children asked for
    assert [(c.start - JAN).seconds for c in children] == [0, 1, 2]
    assert children[-1].end == w.end


def test_expand_puts_children_in_place_of_their_parent_recursively() -> None:
    a = _window(JAN, JAN + timedelta(days=4))
    b = _window(JAN + timedelta(days=4), JAN + timedelta(days=8))
    a1, a2 = (
        _window(a.start, a.start + timedelta(days=2)),
        _window(a.start + timedelta(days=2), a.end),
    )
    a21 = _window(a2.start, a2.start + timedelta(days=1))
    a22 = _window(a2.start + timedelta(days=1), a2.end)
    splits = {marker(a): (a1, a2), marker(a2): (a21, a22)}
    assert expand([a, b], splits) == [a, a1, a2, a21, a22, b]
    assert leaves([a, b], splits) == [a1, a21, a22, b]
    assert leaves([a, b], {}) == [a, b]
