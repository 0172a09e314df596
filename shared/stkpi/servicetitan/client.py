"""The ServiceTitan API client: auth, rate limit, retries and streaming pages.

One client per function instance (built at module scope, reused while warm). Every HTTP
attempt goes through the same path: take a slot from the token bucket, ask the token
cache for a token (refreshed if near expiry, which matters after a long backoff), send
with a ``requests.Session`` (connection reuse, gzip), then classify the answer:

- 2xx: parse and validate the page; a malformed body is retried a couple of times;
- 401: invalidate the refused token, refresh, resend once; a second 401 is ``AuthError``;
- 403: ``AuthError`` at once (the app key is refused; a new token cannot help);
- 429: wait ``Retry-After`` (capped), without using up the error budget;
- 5xx, 408, timeouts, dropped connections: back off with full jitter, bounded;
- any other 4xx: ``RequestRejectedError`` with the server's own message, at once.

Paging streams: ``iter_pages`` yields one page at a time and holds nothing else
(DESIGN invariant 5). See ``stkpi.servicetitan.drift`` for catching rows that offset
paging skips when records change mid-fetch, and ``window_count`` for the count it needs.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from stkpi import logs
from stkpi.config import Settings
from stkpi.errors import PermanentError
from stkpi.registry import Entity
from stkpi.servicetitan.auth import TokenCache
from stkpi.servicetitan.errors import (
    AuthError,
    FetchError,
    MalformedPageError,
    Redactor,
    RequestRejectedError,
    Target,
)
from stkpi.servicetitan.pages import (
    ExportPage,
    Page,
    _load_object,
    error_message,
    parse_export_page,
    parse_list_page,
    parse_total,
)
from stkpi.servicetitan.ratelimit import TokenBucket
from stkpi.servicetitan.retry import Kind, RetryPolicy, parse_retry_after
from stkpi.windows import iso_z

log = logs.get("stkpi.servicetitan")

T = TypeVar("T")

_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


# --- internal retry signals (never escape the client) ---------------------------------


class _Retryable(Exception):
    kind: ClassVar[Kind] = "error"

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class _Transient(_Retryable):
    kind = "error"


class _Throttled(_Retryable):
    kind = "throttled"

    def __init__(self, reason: str, *, retry_after: float | None) -> None:
        super().__init__(reason, status=429)
        self.retry_after = retry_after


class _Malformed(_Retryable):
    kind = "malformed"

    def __init__(self, error: MalformedPageError) -> None:
        super().__init__(error.reason)
        self.error = error


class _AuthRefused(Exception):
    """The token endpoint refused the credentials (turned into ``AuthError`` with a target)."""


# --- stats -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientStats:
    """Counters for logs and benchmarks (a snapshot; the client keeps counting)."""

    requests: int = 0  # API requests sent (token requests not included)
    retries: int = 0  # waits before a retry, any cause
    throttled: int = 0  # 429 answers
    server_errors: int = 0  # 5xx / 408 answers
    transport_errors: int = 0  # timeouts, dropped connections, broken transfers
    malformed: int = 0  # bodies that failed validation
    unauthorized: int = 0  # 401 answers
    token_refreshes: int = 0  # tokens fetched
    pages: int = 0  # pages returned to the caller
    records: int = 0  # records in those pages
    rate_limit_wait_seconds: float = 0.0
    backoff_wait_seconds: float = 0.0


class _Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: Counter[str] = Counter()

    def add(self, name: str, amount: float = 1) -> None:
        with self._lock:
            self._values[name] += amount

    def snapshot(self, **extra: float) -> ClientStats:
        with self._lock:
            values = {**self._values, **extra}
        return ClientStats(**values)  # type: ignore[arg-type]


# --- the client ------------------------------------------------------------------------


class ServiceTitanClient:
    """Reads one ServiceTitan tenant; thread-safe, one instance per process.

    ``sleep`` and ``clock`` drive both the rate limiter and the backoff, and ``policy`` /
    ``rng`` shape the retries, so tests run fault scenarios without wall-clock waits.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        burst: float = 1.0,
        token_refresh_margin: float = 60.0,
    ) -> None:
        self._settings = settings
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._sleep = sleep
        self._policy = policy or RetryPolicy()
        self._rng = rng or random.Random()
        self._timeout = settings.st_request_timeout_seconds
        self._app_key = settings.st_app_key.get_secret_value()
        self._redact = Redactor(
            [
                settings.st_client_id.get_secret_value(),
                settings.st_client_secret.get_secret_value(),
                self._app_key,
            ]
        )
        self._bucket = TokenBucket(
            settings.st_rate_limit_per_second, burst=burst, clock=clock, sleep=sleep
        )
        self._tokens = TokenCache(
            self._fetch_token,
            clock=clock,
            margin=token_refresh_margin,
            on_new_token=self._redact.add,
        )
        self._counters = _Counters()

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
        params = self._list_params(entity, start, end)
        if page_from < 1:
            raise PermanentError(f"page_from must be >= 1, got {page_from}")
        windowed = entity.window_params is not None
        return self._pages(
            entity, start if windowed else None, end if windowed else None, params, page_from
        )

    def window_count(
        self, entity: Entity, start: datetime | None, end: datetime | None
    ) -> int | None:
        """How many records the window holds right now (``includeTotal=true&pageSize=1``).

        One cheap request. Call it before and after paging a window and pass both to
        ``stkpi.servicetitan.drift.paging_may_have_skipped`` with the number of distinct
        records seen: a changed count means records left the window mid-fetch and offset
        paging may have skipped some, so the window must be re-read. Returns None when the
        server does not report ``totalCount``.
        """
        params = self._list_params(entity, start, end)
        windowed = entity.window_params is not None
        target = Target(entity.name, start if windowed else None, end if windowed else None, page=1)
        query = {**params, "page": 1, "pageSize": 1, "includeTotal": "true"}
        return self._request(
            self._url(entity.path(self._settings.st_tenant_id)), query, target, parse_total
        )

    def iter_export(self, entity: Entity, continue_from: str | None = None) -> Iterator[ExportPage]:
        """Yield batches of ``entity``'s export endpoint, starting at ``continue_from``.

        Each ``ExportPage`` carries the token to resume from after it; ``from`` is
        inclusive, so a resumed export re-reads its boundary record (MERGE makes that a
        no-op). Raises ``PermanentError`` if the entity has no export endpoint.
        """
        path = entity.export_path(self._settings.st_tenant_id)
        if path is None:
            raise PermanentError(f"{entity.name} has no export endpoint")
        return self._exports(entity, self._url(path), continue_from)

    def get_json(self, path: str, params: dict[str, Any], what: str) -> dict[str, Any]:
        """GET ``path`` (below the API base, tenant filled in) -> its JSON object, under the
        same auth, rate limit and retry policy as the list endpoints. ``what`` names the
        request in errors (e.g. ``reporting report-categories``)."""
        return self._request(self._url(path), params, Target(what), _load_object)

    def post_json(
        self, path: str, params: dict[str, Any], body: dict[str, Any], what: str
    ) -> dict[str, Any]:
        """POST a JSON ``body`` (e.g. a report's parameters) -> the JSON object answered.
        A 429 waits ``Retry-After`` like any request; callers with a stricter budget (the
        Reporting API's once a minute per report) schedule their calls so it never comes."""
        return self._request(self._url(path), params, Target(what), _load_object, json_body=body)

    @property
    def stats(self) -> ClientStats:
        return self._counters.snapshot(
            token_refreshes=self._tokens.refreshes,
            rate_limit_wait_seconds=self._bucket.waited_seconds,
        )

    def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> ServiceTitanClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never the pydantic settings repr, even with SecretStr
        return f"ServiceTitanClient(base={self._settings.st_api_base_url!r}, tenant={self._settings.st_tenant_id!r})"

    # -- paging -----------------------------------------------------------------------

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
        self, entity: Entity, start: datetime | None, end: datetime | None, number: int
    ) -> Page:
        """Page ``number`` of ``entity``'s window ``[start, end)`` (see ``iter_pages``).

        Pages of one window are independent requests, so a caller that knows the window's
        count (the first page's ``total_count``) may ask for several at once: with an API
        that takes a second to answer a page of 5,000 records, one page at a time is a
        latency bound, not the rate limit."""
        params = self._list_params(entity, start, end)
        if number < 1:
            raise PermanentError(f"page must be >= 1, got {number}")
        windowed = entity.window_params is not None
        return self._page(
            entity, start if windowed else None, end if windowed else None, params, number
        )

    def _page(
        self,
        entity: Entity,
        start: datetime | None,
        end: datetime | None,
        params: dict[str, Any],
        number: int,
    ) -> Page:
        url = self._url(entity.path(self._settings.st_tenant_id))
        target = Target(entity.name, start, end, page=number)
        query = {**params, "page": number, "pageSize": self._settings.st_page_size}
        if start is not None:
            # The count comes with every page of a window: the first page's is the count
            # before paging and the others' tell whether it moved, so change detection
            # costs no requests of its own (two per window, measured by `stkpi bench` as
            # up to 60% of all requests on small tenants).
            query["includeTotal"] = "true"
        page = self._request(url, query, target, parse_list_page)
        self._counters.add("pages")
        self._counters.add("records", len(page.records))
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

    def _exports(self, entity: Entity, url: str, token: str | None) -> Iterator[ExportPage]:
        while True:
            target = Target(entity.name, continue_from=token, export=True)
            query = {"from": token} if token else {}
            batch = self._request(url, query, target, parse_export_page)
            self._counters.add("pages")
            self._counters.add("records", len(batch.records))
            yield batch
            if not batch.has_more:
                return
            if batch.continue_from == token:
                raise MalformedPageError(target, "hasMore=true but continueFrom did not advance")
            token = batch.continue_from

    # -- one request with retries -----------------------------------------------------

    def _url(self, path: str) -> str:
        return self._settings.st_api_base_url + path

    def _request(
        self,
        url: str,
        params: dict[str, Any],
        target: Target,
        parse: Callable[[bytes, Target], T],
        *,
        json_body: dict[str, Any] | None = None,
    ) -> T:
        """Send one GET (a POST with ``json_body``) under the retry policy; return the parsed
        body or raise FetchError."""
        policy = self._policy
        tally: Counter[str] = Counter()

        counted: set[int] = set()

        def failure_kind(state: RetryCallState) -> Kind:
            """Kind of the failed attempt, tallied once whichever hook tenacity runs first."""
            exc = state.outcome.exception() if state.outcome else None
            kind: Kind = exc.kind if isinstance(exc, _Retryable) else "error"
            if state.attempt_number not in counted:
                counted.add(state.attempt_number)
                tally[kind] += 1
            return kind

        def stop(state: RetryCallState) -> bool:
            kind = failure_kind(state)
            return tally[kind] >= policy.budget(kind)

        def wait(state: RetryCallState) -> float:
            kind = failure_kind(state)
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Throttled):
                return policy.throttle_wait(exc.retry_after, tally[kind], self._rng)
            return policy.backoff(tally[kind], self._rng)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            seconds = state.upcoming_sleep
            self._counters.add("retries")
            self._counters.add("backoff_wait_seconds", seconds)
            log.warning(
                self._redact(f"retrying {target.describe()} in {seconds:.2f}s: {exc}"),
                extra={
                    "entity": target.entity,
                    "page": target.page,
                    "attempt": state.attempt_number,
                },
            )

        retrying = Retrying(
            sleep=self._sleep,
            stop=stop,
            wait=wait,
            retry=retry_if_exception_type(_Retryable),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(url, params, target, parse, json_body)
        except _Malformed as exc:
            raise exc.error from None
        except _Retryable as exc:
            attempts = sum(tally.values())
            reason = self._redact(f"gave up after {attempts} attempts; last error: {exc.reason}")
            raise FetchError(target, reason, status=exc.status) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _attempt(
        self,
        url: str,
        params: dict[str, Any],
        target: Target,
        parse: Callable[[bytes, Target], T],
        json_body: dict[str, Any] | None = None,
    ) -> T:
        """One try, plus one immediate resend after refreshing a token the API refused."""
        for auth_try in (1, 2):
            self._bucket.acquire()
            try:
                token = self._tokens.get()
            except _AuthRefused as exc:
                raise AuthError(target, self._redact(str(exc))) from None
            headers = {
                "Authorization": f"Bearer {token}",
                "ST-App-Key": self._app_key,
                "Accept": "application/json",
                "Accept-Encoding": "gzip",
            }
            self._counters.add("requests")
            try:
                response = self._session.request(
                    "GET" if json_body is None else "POST",
                    url,
                    params=params,
                    json=json_body,
                    headers=headers,
                    timeout=self._timeout,
                )
                body = response.content
            except _TRANSPORT_ERRORS as exc:
                self._counters.add("transport_errors")
                raise _Transient(self._redact(f"{type(exc).__name__}: {exc}")) from None
            status = response.status_code
            if status == 401:
                self._counters.add("unauthorized")
                self._tokens.invalidate(token)
                if auth_try == 1:
                    continue
                message = self._redact(error_message(body))
                raise AuthError(
                    target, f"HTTP 401 again after a token refresh: {message}", status=401
                )
            return self._classify(status, response, body, target, parse)
        raise AssertionError("unreachable")

    def _classify(
        self,
        status: int,
        response: requests.Response,
        body: bytes,
        target: Target,
        parse: Callable[[bytes, Target], T],
    ) -> T:
        if 200 <= status < 300:
            try:
                return parse(body, target)
            except MalformedPageError as exc:
                self._counters.add("malformed")
                clean = MalformedPageError(
                    target, self._redact(exc.detail), snippet=self._redact(exc.snippet)
                )
                raise _Malformed(clean) from None
        message = self._redact(error_message(body))
        if status == 429:
            self._counters.add("throttled")
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise _Throttled(f"HTTP 429: {message}", retry_after=retry_after)
        if status >= 500 or status == 408:
            self._counters.add("server_errors")
            raise _Transient(f"HTTP {status}: {message}", status=status)
        if status == 403:  # valid token, but the app key is unknown or not allowed here
            raise AuthError(target, f"HTTP 403: {message}", status=403)
        raise RequestRejectedError(target, f"HTTP {status}: {message}", status=status)

    # -- auth -------------------------------------------------------------------------

    def _fetch_token(self) -> tuple[str, float]:
        """Client-credentials exchange; retried by the caller's policy like any request."""
        settings = self._settings
        form = {
            "grant_type": "client_credentials",
            "client_id": settings.st_client_id.get_secret_value(),
            "client_secret": settings.st_client_secret.get_secret_value(),
        }
        try:
            response = self._session.post(
                settings.st_auth_url + "/connect/token",
                data=form,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            )
            body = response.content
        except _TRANSPORT_ERRORS as exc:
            self._counters.add("transport_errors")
            raise _Transient(self._redact(f"token request: {type(exc).__name__}: {exc}")) from None
        status = response.status_code
        if status == 429:
            self._counters.add("throttled")
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise _Throttled("token request: HTTP 429", retry_after=retry_after)
        if status >= 500 or status == 408:
            self._counters.add("server_errors")
            raise _Transient(f"token request: HTTP {status}", status=status)
        if status != 200:
            message = self._redact(error_message(body))
            raise _AuthRefused(f"token request refused: HTTP {status}: {message}")
        try:
            doc = response.json()
            value = doc["access_token"]
            ttl = float(doc.get("expires_in", 900))
        except (ValueError, KeyError, TypeError):
            raise _Transient("token request: response is not a token document") from None
        if not isinstance(value, str) or not value:
            raise _Transient("token request: empty access_token")
        self._redact.add(value)
        log.info("fetched a ServiceTitan access token", extra={"expires_in": ttl})
        return value, ttl
