"""Page shapes: the one place that knows what a ServiceTitan response body looks like.

A list page is ``{"page", "pageSize", "hasMore", "totalCount", "data": [...]}``, or, where
ServiceTitan's spec says so (the inventory-bills list), a bare JSON array of records; an
export page is ``{"data": [...], "hasMore", "continueFrom"}`` (SERVICETITAN.md). Anything else,
including a body truncated mid-transfer, raises ``MalformedPageError`` naming the entity,
window and page with a snippet of the body, instead of landing half a page or crashing
later with a ``KeyError``. A real tenant whose shapes differ needs a change here only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from stkpi.servicetitan.errors import MalformedPageError, Target

SNIPPET_CHARS = 160


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint, yielded as soon as it arrives (never a whole window).
    ``lenient``: the body was read by the standard library, not orjson (it holds what
    orjson refuses or rounds: a lone surrogate, a number beyond a double, an integer
    beyond 64 bits), so its records must be screened before they are stored."""

    number: int
    records: list[dict[str, Any]]
    has_more: bool
    total_count: int | None = None
    lenient: bool = False


class ExportPage(NamedTuple):
    """One batch of an export endpoint; ``continue_from`` resumes after (and including) it.
    ``lenient`` as a list ``Page``'s: its records must be screened before they are stored."""

    records: list[dict[str, Any]]
    continue_from: str | None
    has_more: bool
    lenient: bool = False


def snippet(body: bytes | str, limit: int = SNIPPET_CHARS) -> str:
    """The start of a body, decoded leniently, for error messages."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text[:limit] + ("..." if len(text) > limit else "")


# An integer of 19 digits or more may not fit 64 bits; orjson would read it as a double
# and round it without a word.
_LONG_INTEGER = re.compile(rb"[-:,\[\s]\d{19,}")


def parse_json(body: bytes | str) -> tuple[Any, bool]:
    """The JSON value of ``body`` and whether it was read leniently.

    orjson first (a 5,000-record page in a third of the standard library's time); it refuses
    a lone UTF-16 surrogate and a number beyond a double, and rounds an integer beyond 64
    bits. Such a body is still JSON that ServiceTitan may send for one bad record, and one
    bad record must not fail its page (it is quarantined, ``stkpi.quarantine``): the
    standard library reads it exactly (surrogates as they are, big integers as integers,
    ``1e400`` as infinity), and the page is marked lenient so its records are screened.
    A body neither reads (truncated, not JSON) raises the standard library's error."""
    raw = body.encode() if isinstance(body, str) else body
    if not _LONG_INTEGER.search(raw):
        try:
            return orjson.loads(raw), False
        except (ValueError, UnicodeDecodeError):
            pass
    return json.loads(raw), True


def _load_lenient(body: bytes | str, target: Target, kind: type, name: str) -> tuple[Any, bool]:
    """The body's JSON value, which must be of ``kind`` (dict: an object, list: an array),
    and whether it was read leniently (``parse_json``)."""
    try:
        doc, lenient = parse_json(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPageError(
            target, f"body is not JSON ({exc.__class__.__name__}: {exc})", snippet=snippet(body)
        ) from None
    if not isinstance(doc, kind):
        raise MalformedPageError(
            target, f"body is a JSON {type(doc).__name__}, not {name}", snippet=snippet(body)
        )
    return doc, lenient


def _load(body: bytes | str, target: Target, kind: type, name: str) -> Any:
    """The body's JSON value, which must be of ``kind`` (dict: an object, list: an array)."""
    return _load_lenient(body, target, kind, name)[0]


def _load_object(body: bytes | str, target: Target) -> dict[str, Any]:
    return _load(body, target, dict, "an object")


def _records(doc: dict[str, Any], body: bytes | str, target: Target) -> list[dict[str, Any]]:
    data = doc.get("data")
    if not isinstance(data, list):
        got = "missing" if "data" not in doc else f"a {type(data).__name__}"
        raise MalformedPageError(target, f"'data' is {got}, not a list", snippet=snippet(body))
    for i, rec in enumerate(data):
        if not isinstance(rec, dict):
            raise MalformedPageError(
                target,
                f"'data[{i}]' is a {type(rec).__name__}, not an object",
                snippet=snippet(body),
            )
    return data


def _has_more(doc: dict[str, Any], body: bytes | str, target: Target) -> bool:
    has_more = doc.get("hasMore")
    if not isinstance(has_more, bool):
        got = "missing" if "hasMore" not in doc else repr(has_more)
        raise MalformedPageError(
            target, f"'hasMore' is {got}, not a boolean", snippet=snippet(body)
        )
    return has_more


def _optional_int(doc: dict[str, Any], key: str) -> int | None:
    value = doc.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_list_page(body: bytes | str, target: Target) -> Page:
    """Validate a list-endpoint body for page ``target.page``.

    Besides the types, two consistency checks catch a server (or proxy) that answered a
    different question: the echoed ``page`` must be the one asked for, and a page that
    says ``hasMore`` must not be empty (paging on would loop without progress).
    """
    doc, lenient = _load_lenient(body, target, dict, "an object")
    records = _records(doc, body, target)
    has_more = _has_more(doc, body, target)
    echoed = _optional_int(doc, "page")
    if target.page is not None and echoed is not None and echoed != target.page:
        raise MalformedPageError(
            target, f"asked for page {target.page}, got page {echoed}", snippet=snippet(body)
        )
    if has_more and not records:
        raise MalformedPageError(target, "empty page with hasMore=true", snippet=snippet(body))
    return Page(
        number=target.page or 1,
        records=records,
        has_more=has_more,
        total_count=_optional_int(doc, "totalCount"),
        lenient=lenient,
    )


def parse_list_array(body: bytes | str, target: Target, page_size: int) -> Page:
    """Validate a list body the spec gives as a bare JSON array of records.

    The array says neither whether more follow nor how many there are: a full page
    (``page_size`` records) may be followed by more, so paging goes on until a short or
    empty page; the count is unknown (``total_count`` None), so such a window is read one
    page at a time, never split by count, and accepted when two passes read the same keys
    (stkpi.fetch).
    """
    doc, lenient = _load_lenient(body, target, list, "an array")
    records = _records({"data": doc}, body, target)
    if len(records) > page_size:
        raise MalformedPageError(
            target, f"{len(records)} records on a page of {page_size}", snippet=snippet(body)
        )
    return Page(
        number=target.page or 1,
        records=records,
        has_more=len(records) == page_size,
        lenient=lenient,
    )


def parse_total(body: bytes | str, target: Target) -> int | None:
    """``totalCount`` of an ``includeTotal=true`` page; None if the server did not say."""
    doc = _load_object(body, target)
    _records(doc, body, target)
    total = _optional_int(doc, "totalCount")
    if total is not None and total < 0:
        raise MalformedPageError(target, f"negative totalCount {total}", snippet=snippet(body))
    return total


def parse_export_page(body: bytes | str, target: Target) -> ExportPage:
    """Validate an export body; more data without a continuation token is malformed."""
    doc, lenient = _load_lenient(body, target, dict, "an object")
    records = _records(doc, body, target)
    has_more = _has_more(doc, body, target)
    token = doc.get("continueFrom")
    if token is not None and not isinstance(token, str):
        raise MalformedPageError(
            target,
            f"'continueFrom' is a {type(token).__name__}, not a string",
            snippet=snippet(body),
        )
    if has_more and not token:
        raise MalformedPageError(target, "hasMore=true without continueFrom", snippet=snippet(body))
    return ExportPage(
        records=records, continue_from=token or None, has_more=has_more, lenient=lenient
    )


def error_message(body: bytes | str) -> str:
    """The server's own words from a JSON error body (ServiceTitan problem details).

    ServiceTitan answers 4xx with ``{"type", "title", "status", "traceId", "errors",
    "data"}`` (its specs' ``ApiErrorResponse``; ``data.detail`` where a server says more);
    auth servers with ``{"error", "error_description"}``. Falls back to a body snippet.
    """
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return snippet(body) or "(empty body)"
    if not isinstance(doc, dict):
        return snippet(body)
    parts = []
    data = doc.get("data")
    extra = data if isinstance(data, dict) else {}
    for value in [doc.get(k) for k in ("title", "message", "error", "error_description",
                                       "detail")] + [extra.get("detail")]:  # fmt: skip
        if isinstance(value, str) and value and value not in parts:
            parts.append(value)
    errors = doc.get("errors")
    if errors:
        parts.append(f"errors={json.dumps(errors, default=str)[:SNIPPET_CHARS]}")
    trace = doc.get("traceId")
    if isinstance(trace, str) and trace:
        parts.append(f"traceId={trace}")
    return "; ".join(parts) if parts else snippet(body)
