"""The ServiceTitan API client: what the pipeline asks of one tenant.

One client per function instance (built at module scope, reused while warm). It turns the
registry's entities into requests (list pages of a window, a window's count, export
batches, Reporting API calls) and hands each to the transport
(``stkpi.servicetitan.transport``), which owns auth, rate limit, retries and the verdict
on each answer.

Paging streams: ``iter_pages`` yields one page at a time and holds nothing else
(DESIGN invariant 5). See ``stkpi.servicetitan.drift`` for catching rows that offset
paging skips when records change mid-fetch, and ``window_count`` for the count it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from stkpi.errors import PermanentError
from stkpi.registry import Entity
from stkpi.servicetitan.errors import MalformedPageError, Target
from stkpi.servicetitan.pages import (
    ExportPage,
    Page,
    _load_object,
    parse_export_page,
    parse_list_array,
    parse_list_page,
    parse_total,
)
from stkpi.servicetitan.transport import Transport
from stkpi.windows import iso_z


class ServiceTitanClient(Transport):
    """Reads one ServiceTitan tenant; thread-safe, one instance per process.

    Built like its ``Transport`` (settings, and the session, clock, sleep and retry policy
    tests replace); adds the requests the pipeline makes.
    """

    # -- public API -----------------------------------------------------------------

    def iter_pages(
        self, entity: Entity, start: datetime | None, end: datetime | None, *, page_from: int = 1
    ) -> Iterator[Page]:
        """Yield the pages of ``entity``'s list endpoint for the window ``[start, end)``.

        The window goes out as the registry's params (e.g. ``modifiedOnOrAfter`` /
        ``modifiedBefore``, ISO-8601 UTC ``Z``), plus its extra params (``active=Any``) and
        ``pageSize=settings.st_page_size`` and ``includeTotal=true`` (each page's
        ``total_count`` is the window's count when it was served). Reference entities (no
        window params) ignore ``start``/``end`` and list everything. ``page_from`` resumes
        a fetch that stopped to stay within its time budget. Pages are fetched lazily, one
        at a time: the caller writes each page before the next is requested. Do not rely
        on order.
        """
        params, start, end = self._window(entity, start, end)
        if page_from < 1:
            raise PermanentError(f"page_from must be >= 1, got {page_from}")
        return self._pages(entity, start, end, params, page_from)

    def window_count(
        self,
        entity: Entity,
        start: datetime | None,
        end: datetime | None,
        *,
        deadline: float | None = None,
    ) -> int | None:
        """How many records the window holds right now (``includeTotal=true&pageSize=1``).

        One cheap request. Call it before and after paging a window and pass both to
        ``stkpi.servicetitan.drift.paging_may_have_skipped`` with the number of distinct
        records seen: a changed count means records left the window mid-fetch and offset
        paging may have skipped some, so the window must be re-read. Returns None when the
        server does not report ``totalCount`` (a list the spec gives as a bare array
        cannot: no request is made for it).
        """
        params, start, end = self._window(entity, start, end)
        if entity.list_shape == "array":
            return None
        target = Target(entity.name, start, end, page=1)
        query = {**params, "page": 1, "pageSize": 1, "includeTotal": "true"}
        return self.request(
            self.url(entity.path(self._settings.st_tenant_id)),
            query,
            target,
            parse_total,
            deadline=deadline,
        )

    def iter_export(
        self,
        entity: Entity,
        continue_from: str | None = None,
        *,
        recent_changes: bool = False,
        deadline: float | None = None,
    ) -> Iterator[ExportPage]:
        """Yield batches of ``entity``'s export endpoint, starting at ``continue_from`` (a
        continuation token, or a date ``YYYY-MM-DD``: records modified on or after it).

        Each ``ExportPage`` carries the token to resume from after it; ``from`` is
        inclusive, so a resumed export re-reads its boundary record (MERGE makes that a
        no-op). ``recent_changes`` asks for ``includeRecentChanges=true``: the latest
        changes sooner, at the price of some records twice (the MERGE's again).
        ``deadline``: each request and its retries end before it (``Transport.request``).
        Raises ``PermanentError`` if the entity has no export endpoint.
        """
        path = entity.export_path(self._settings.st_tenant_id)
        if path is None:
            raise PermanentError(f"{entity.name} has no export endpoint")
        extra = {"includeRecentChanges": "true"} if recent_changes else {}
        return self._exports(entity, self.url(path), continue_from, extra, deadline)

    def get_json(self, path: str, params: dict[str, Any], what: str) -> dict[str, Any]:
        """GET ``path`` (below the API base, tenant filled in) -> its JSON object, under the
        same auth, rate limit and retry policy as the list endpoints. ``what`` names the
        request in errors (e.g. ``reporting report-categories``)."""
        return self.request(self.url(path), params, Target(what), _load_object)

    def post_json(
        self, path: str, params: dict[str, Any], body: dict[str, Any], what: str
    ) -> dict[str, Any]:
        """POST a JSON ``body`` (e.g. a report's parameters) -> the JSON object answered.
        A 429 waits ``Retry-After`` like any request; callers with a stricter budget (the
        Reporting API's once a minute per report) schedule their calls so it never comes."""
        return self.request(self.url(path), params, Target(what), _load_object, json_body=body)

    def __enter__(self) -> ServiceTitanClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never the pydantic settings repr, even with SecretStr
        return f"ServiceTitanClient(base={self._settings.st_api_base_url!r}, tenant={self._settings.st_tenant_id!r})"

    # -- paging -----------------------------------------------------------------------

    def _window(
        self, entity: Entity, start: datetime | None, end: datetime | None
    ) -> tuple[dict[str, Any], datetime | None, datetime | None]:
        """The list params of ``entity``'s window and its bounds as the requests name them:
        a reference entity (no window params) lists everything, so it has no bounds."""
        params = self._list_params(entity, start, end)
        if entity.window_params is None:
            return params, None, None
        return params, start, end

    def _list_params(
        self, entity: Entity, start: datetime | None, end: datetime | None
    ) -> dict[str, Any]:
        params: dict[str, Any] = dict(entity.extra_params)
        if entity.window_params is None:
            return params
        if start is None or end is None:
            raise PermanentError(f"{entity.name} is windowed: start and end are required")
        if start.tzinfo is None or end.tzinfo is None:
            raise PermanentError(f"{entity.name}: window bounds must be timezone-aware")
        if end <= start:
            raise PermanentError(
                f"{entity.name}: empty or reversed window [{iso_z(start)}, {iso_z(end)})"
            )
        after, before = entity.window_params
        params[after] = iso_z(start)
        params[before] = iso_z(end)
        return params

    def page(
        self,
        entity: Entity,
        start: datetime | None,
        end: datetime | None,
        number: int,
        *,
        before_parse: Callable[[], None] | None = None,
        deadline: float | None = None,
    ) -> Page:
        """Page ``number`` of ``entity``'s window ``[start, end)`` (see ``iter_pages``).

        Pages of one window are independent requests, so a caller that knows the window's
        count (the first page's ``total_count``) may ask for several at once: with an API
        that takes a second to answer a page of 5,000 records, one page at a time is a
        latency bound, not the rate limit. ``before_parse`` runs once a body has arrived
        and before it is parsed (again for a resent body): a caller with many pages in
        flight waits there for its turn to hold a parsed page, not before the request.
        ``deadline``: the request and its retries end before it (``Transport.request``)."""
        params, start, end = self._window(entity, start, end)
        if number < 1:
            raise PermanentError(f"page must be >= 1, got {number}")
        return self._page(entity, start, end, params, number, before_parse, deadline)

    def _page(
        self,
        entity: Entity,
        start: datetime | None,
        end: datetime | None,
        params: dict[str, Any],
        number: int,
        before_parse: Callable[[], None] | None = None,
        deadline: float | None = None,
    ) -> Page:
        url = self.url(entity.path(self._settings.st_tenant_id))
        target = Target(entity.name, start, end, page=number)
        size = self._settings.st_page_size
        query = {**params, "page": number, "pageSize": size}
        if entity.list_shape == "page":
            # The count comes with every page, of a window or a reference list: the first
            # page's is the count before paging and the others' tell whether it moved, so
            # change detection costs no requests of its own (two per window, measured by
            # `stkpi bench` as up to 60% of all requests on small tenants), and a pass is
            # accepted only when the distinct keys it read add up to it (stkpi.fetch). A
            # bare-array list has no count: two passes must read the same keys instead.
            query["includeTotal"] = "true"

        def read(body: bytes, target: Target) -> Page:
            if entity.list_shape == "array":
                return parse_list_array(body, target, size)
            return parse_list_page(body, target)

        parse = read
        if before_parse is not None:

            def parse(body: bytes, target: Target) -> Page:
                before_parse()
                return read(body, target)

        page = self.request(url, query, target, parse, deadline=deadline)
        self.counters.add("pages")
        self.counters.add("records", len(page.records))
        return page

    def _pages(
        self,
        entity: Entity,
        start: datetime | None,
        end: datetime | None,
        params: dict[str, Any],
        page_from: int,
    ) -> Iterator[Page]:
        number = page_from
        while True:
            page = self._page(entity, start, end, params, number)
            yield page
            if not page.has_more:
                return
            number += 1

    def _exports(
        self,
        entity: Entity,
        url: str,
        token: str | None,
        extra: dict[str, str],
        deadline: float | None,
    ) -> Iterator[ExportPage]:
        while True:
            target = Target(entity.name, continue_from=token, export=True)
            query = {**({"from": token} if token else {}), **extra}
            batch = self.request(url, query, target, parse_export_page, deadline=deadline)
            self.counters.add("pages")
            self.counters.add("records", len(batch.records))
            yield batch
            if not batch.has_more:
                return
            if batch.continue_from == token:
                raise MalformedPageError(target, "hasMore=true but continueFrom did not advance")
            token = batch.continue_from
