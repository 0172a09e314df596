"""Page validation: a truncated or malformed body is a clear, typed error, never half a page."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from stkpi.servicetitan import MalformedPageError, Page, paging_may_have_skipped
from stkpi.servicetitan.errors import Target
from stkpi.servicetitan.pages import (
    ExportPage,
    error_message,
    parse_export_page,
    parse_list_page,
    parse_total,
)

START = datetime(2025, 8, 11, tzinfo=UTC)
END = datetime(2025, 8, 18, tzinfo=UTC)
TARGET = Target("jobs", START, END, page=3)


def body(**doc) -> bytes:
    return json.dumps(doc).encode()


def test_valid_page_parses():
    page = parse_list_page(
        body(page=3, pageSize=2, hasMore=True, totalCount=None, data=[{"id": 1}, {"id": 2}]),
        TARGET,
    )
    assert page == Page(number=3, records=[{"id": 1}, {"id": 2}], has_more=True)


def test_last_page_may_be_empty():
    page = parse_list_page(body(page=3, hasMore=False, data=[]), TARGET)
    assert page.records == [] and not page.has_more


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"page": 3, "hasMore": true, "data": [{"id": 1}, {"id"', "not JSON"),
        (b"", "not JSON"),
        (b"<html>502 Bad Gateway</html>", "not JSON"),
        (b"[1, 2]", "JSON list, not an object"),
        (body(page=3, hasMore=False), "'data' is missing"),
        (body(page=3, hasMore=False, data={"id": 1}), "'data' is a dict"),
        (body(page=3, hasMore=False, data=[{"id": 1}, 7]), "'data[1]' is a int"),
        (body(page=3, data=[]), "'hasMore' is missing"),
        (body(page=3, hasMore="yes", data=[]), "'hasMore' is 'yes'"),
        (body(page=2, hasMore=False, data=[]), "asked for page 3, got page 2"),
        (body(page=3, hasMore=True, data=[]), "empty page with hasMore=true"),
    ],
)
def test_malformed_page_names_entity_window_page_and_cause(raw, fragment):
    with pytest.raises(MalformedPageError) as info:
        parse_list_page(raw, TARGET)
    text = str(info.value)
    assert fragment in text
    assert "jobs window [2025-08-11T00:00:00Z, 2025-08-18T00:00:00Z) page 3" in text
    assert info.value.target == TARGET


def test_malformed_snippet_is_bounded():
    raw = b'{"data": [' + b'{"id": 1},' * 1000
    with pytest.raises(MalformedPageError) as info:
        parse_list_page(raw, TARGET)
    assert info.value.snippet.startswith('{"data": [{"id": 1}')
    assert len(info.value.snippet) <= 200


def test_total_count_read_when_present():
    assert parse_total(body(page=1, hasMore=True, totalCount=42, data=[{"id": 1}]), TARGET) == 42
    assert (
        parse_total(body(page=1, hasMore=True, totalCount=None, data=[{"id": 1}]), TARGET) is None
    )
    with pytest.raises(MalformedPageError):
        parse_total(body(page=1, hasMore=False, totalCount=-1, data=[]), TARGET)


def test_export_page_parses_and_requires_token_when_more():
    target = Target("jobs", continue_from="abc", export=True)
    got = parse_export_page(body(data=[{"id": 1}], hasMore=True, continueFrom="def"), target)
    assert got == ExportPage([{"id": 1}], "def", True)
    records, token, more, lenient = parse_export_page(
        body(data=[], hasMore=False, continueFrom=None), target
    )
    assert (records, token, more, lenient) == ([], None, False, False)
    with pytest.raises(MalformedPageError, match=r"export from 'abc'.*without continueFrom"):
        parse_export_page(body(data=[{"id": 1}], hasMore=True), target)


def test_reference_target_describes_full_list():
    assert Target("business_units", page=2).describe() == "business_units full list page 2"


def test_error_message_prefers_server_words():
    problem = body(type="x", title="The pageSize field is invalid.", status=400, traceId="t-1")
    assert error_message(problem) == "The pageSize field is invalid.; traceId=t-1"
    assert error_message(body(error="invalid_client")) == "invalid_client"
    assert error_message(b"upstream exploded") == "upstream exploded"
    assert error_message(b"") == "(empty body)"


@pytest.mark.parametrize(
    ("before", "after", "seen", "expected"),
    [
        (10, 10, 10, False),  # stable window, everything seen
        (10, 9, 9, True),  # a record left mid-fetch: seen == after, yet one was skipped
        (10, 10, 9, True),  # fewer seen than exist
        (10, 11, 11, True),  # count moved at all
        (None, 10, 9, True),
        (10, None, 10, False),
        (None, None, 0, False),  # server reports no totals: no evidence either way
    ],
)
def test_paging_may_have_skipped(before, after, seen, expected):
    assert paging_may_have_skipped(before, after, seen) is expected
