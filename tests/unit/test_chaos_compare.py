"""compare_entity: each way a copy can differ from its source is counted, none hides another;
unpack_versions: raw's packed (key, modifiedOn) pairs come back exact."""

from __future__ import annotations

from datetime import UTC, datetime

from stkpi_tools.chaos.compare import compare_entity, unpack_versions

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
    assert pairs == [
        ("40000001", datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)),
        ("ab12cd", datetime(1970, 1, 1, tzinfo=UTC)),
        ("7", None),
    ]
    assert unpack_versions("") == []
