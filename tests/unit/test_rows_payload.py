"""The raw row's payload is the record itself, whatever the record holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from stkpi.registry import get_entity
from stkpi.rows import payload_text, to_row
from stkpi.windows import iso_z


@pytest.mark.parametrize(
    "record",
    [
        {"id": 7, "b": "Café ☕", "a": [1.5, 1e-07, None, True], "n": {"z": 1, "y": "x"}},
        {"id": 2**70, "total": "12.30"},  # beyond 64 bits: orjson refuses, json writes it
        {"id": 1, "note": 'quote " and \\ and \n newline', "empty": {}},
    ],
)
def test_the_payload_is_the_same_json_value_with_sorted_keys(record: dict) -> None:
    text = payload_text(record)
    assert json.loads(text) == record
    # keys sorted at every level: one spelling per record, whatever order the API sent
    orders: list[list[str]] = []
    json.loads(text, object_pairs_hook=lambda pairs: orders.append([k for k, _ in pairs]))
    assert orders and all(keys == sorted(keys) for keys in orders), orders
    assert text == payload_text(dict(reversed(list(record.items()))))


def test_each_row_carries_its_pages_ingestion_time() -> None:
    jobs = get_entity("jobs")
    record = {"id": 1, "jobNumber": "1", "createdOn": "2025-01-01T00:00:00Z",
              "modifiedOn": "2025-01-02T00:00:00Z"}  # fmt: skip
    first, second = (datetime(2025, 1, 3, 4, 5, 6, tzinfo=UTC) + timedelta(seconds=s)
                     for s in (0, 1))  # fmt: skip
    rows = [to_row(jobs, record, run_id="r", window_id="w", page=1, ingested_at=at)
            for at in (first, first, second)]  # fmt: skip
    assert [r["_ingested_at"] for r in rows] == [iso_z(first), iso_z(first), iso_z(second)]
    assert rows[0]["_ingested_at"] != rows[2]["_ingested_at"]
