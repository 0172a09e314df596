"""The fast path of TIMESTAMP columns gives what the general parser gives."""

from __future__ import annotations

import pytest

from stkpi.registry import Column
from stkpi.rows import _convert
from stkpi.windows import iso_z, parse_ts

COL = Column("modified_on", "TIMESTAMP", ("modifiedOn",))


@pytest.mark.parametrize(
    "value",
    [
        "2025-08-18T07:05:09Z",
        "2025-08-18T07:05:09.1234567Z",  # ServiceTitan sends 7 fractional digits
        "2025-08-18T07:05:09.5Z",
        "2025-08-18T07:05:09+02:00",  # an offset takes the general path
        "2025-08-18T07:05:09.250-07:00",
    ],
)
def test_every_shape_converts_as_the_general_parser_does(value: str) -> None:
    assert _convert(COL, value) == iso_z(parse_ts(value))


def test_a_malformed_timestamp_names_the_column() -> None:
    with pytest.raises(ValueError, match="modified_on"):
        _convert(COL, "2025-13-45T99:00:00Z")
