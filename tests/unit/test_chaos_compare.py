"""compare_entity: each way a copy can differ from its source is counted, none hides another,
whatever spelling each side gives modifiedOn; the packed (key, modifiedOn) strings both
sides send come back exact."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stkpi_tools.chaos.compare import compare_entity, to_micros, unpack_versions
from stkpi_tools.sim.packed_versions import pack

T1 = "2025-01-01T00:00:00Z"
T2 = "2025-01-02T00:00:00Z"
D1 = datetime(2025, 1, 1, tzinfo=UTC)
D2 = datetime(2025, 1, 2, tzinfo=UTC)


def test_an_exact_copy_is_ok_whatever_the_timestamp_types() -> None:
    got = compare_entity("jobs", {"1": T1, "2": T2}, [("1", D1), ("2", D2)])
    assert got.ok and got.expected == 2 and got.in_raw == 2 and got.duplicates == 0


def test_every_kind_of_difference_is_counted() -> None:
    # source: keys 1..4. raw: 1 twice (duplicate), 2 at an old version (outdated),
    # 3 absent (missing), 4 right, 9 not in the source (unexpected).
    source = {"1": T1, "2": T2, "3": T1, "4": T1}
    raw = [("1", D1), ("1", D1), ("2", D1), ("4", D1), ("9", D1)]
    got = compare_entity("jobs", source, raw)
    assert not got.ok
    assert (got.expected, got.in_raw) == (4, 5)
    assert (got.duplicates, got.missing, got.outdated, got.unexpected) == (1, 1, 1, 1)
    assert "missing 3" in got.examples and "unexpected 9" in got.examples


def test_null_modified_on_matches_null() -> None:
    assert compare_entity("business_units", {"7": None}, [("7", None)]).ok


def test_packed_versions_unpack_to_keys_and_exact_times() -> None:
    # 1700000000123456 us after the epoch = 2023-11-14T22:13:20.123456Z; "-" = no modifiedOn
    pairs = unpack_versions("40000001 1700000000123456,ab12cd 0,7 -")
    assert pairs == [("40000001", 1_700_000_000_123_456), ("ab12cd", 0), ("7", None)]
    assert to_micros(datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)) == pairs[0][1]
    assert unpack_versions("") == []
    assert unpack_versions(pack(pairs)) == pairs  # the simulator's side packs the same way
    assert pack([]) == ""


def test_a_key_that_cannot_be_packed_is_refused() -> None:
    with pytest.raises(ValueError, match="comma"):
        pack([("a,b", 1)])
    with pytest.raises(ValueError, match="space"):
        pack([("a b", None)])


def test_every_spelling_of_an_instant_is_the_same_microsecond() -> None:
    # 2025-01-01T00:00:00Z is 55 years after the epoch: 20,089 days (55 x 365 + 14 leap days,
    # 1972 to 2024) x 86,400 s = 1,735,689,600 s.
    micros = 1_735_689_600 * 1_000_000
    assert to_micros(T1) == to_micros(D1) == to_micros(micros) == micros
    assert to_micros("2025-01-01T07:00:00+07:00") == micros
    assert to_micros(None) is None
    # so a copy compares equal whichever side sends text, datetimes or packed integers
    assert compare_entity("jobs", {"1": micros}, [("1", T1)]).ok
    got = compare_entity("jobs", {"1": micros + 1}, [("1", D1)])
    assert got.outdated == 1 and "2025-01-01T00:00:00.000001+00:00" in got.examples[0]
