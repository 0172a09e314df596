"""The local BigQuery takes no time-travel copies, and refuses time travel instead of
answering it from the live table; nothing the pipeline runs reads a table's past."""

from __future__ import annotations

from pathlib import Path

import pytest
from bqemulator.domain.errors import InvalidQueryError

from stkpi_tools.localstack.bq_snapshots import (
    REFUSAL,
    reads_the_past,
    refuse_time_travel,
    skip_automatic,
)

ROOT = Path(__file__).resolve().parents[2]
PAST = "SELECT * FROM `p.d.t` FOR SYSTEM_TIME AS OF TIMESTAMP '2024-01-01 00:00:00+00'"


def test_nothing_the_pipeline_runs_reads_a_tables_past() -> None:
    # If this fails, the local stack would refuse the new query (bq_snapshots): turn the
    # emulator's snapshots back on for it, or read the past another way.
    sources = [*(ROOT / "sql").rglob("*.sql"), *(ROOT / "shared" / "stkpi").rglob("*.py")]
    assert len(sources) > 100
    readers = [str(p.relative_to(ROOT)) for p in sources if "SYSTEM_TIME" in p.read_text().upper()]
    assert readers == []


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (PAST, True),
        (
            "MERGE t USING (SELECT * FROM s FOR SYSTEM_TIME AS OF CURRENT_TIMESTAMP()) x "
            "ON FALSE WHEN NOT MATCHED THEN INSERT ROW",
            True,
        ),
        ("SELECT 'for system_time as of' AS system_time FROM `p.d.t`", False),
        ("SELECT 1; SELECT 2", False),
        ("SELECT FROM WHERE ( SYSTEM_TIME", False),  # left to the translator to reject
    ],
)
def test_a_query_reads_the_past_only_through_a_table_version(sql: str, expected: bool) -> None:
    assert reads_the_past(sql) is expected


def test_time_travel_is_refused_with_a_reason_and_the_rest_passes_through() -> None:
    seen: list[str] = []

    def rewrite(sql: str, *args: object, **kwargs: object) -> str:
        seen.append(sql)
        return sql

    refused = refuse_time_travel(rewrite)
    with pytest.raises(InvalidQueryError, match="not available on the local stack"):
        refused(PAST, "p", None, None)
    assert seen == []
    assert refused("SELECT 1", "p", None, None) == "SELECT 1" and seen == ["SELECT 1"]
    assert "bq_snapshots" in REFUSAL


def test_only_the_snapshots_someone_asked_for_are_taken() -> None:
    taken: list[tuple[str, str]] = []

    def capture(self: object, project: str, dataset: str, table: str, *, kind: str = "AUTO"):
        taken.append((table, kind))
        return kind

    captured = skip_automatic(capture)
    assert captured(None, "p", "d", "after_a_merge") is None  # AUTO by default
    assert captured(None, "p", "d", "after_a_load", kind="AUTO") is None
    assert captured(None, "p", "d", "snap", kind="USER") == "USER"
    assert taken == [("snap", "USER")]
