"""One HTTP request to ServiceTitan: auth, rate limit, retries and the answer's verdict.

Every request of the client (list pages, counts, exports, reports) goes through the same
path, kept here apart from what is asked (``stkpi.servicetitan.client``): take a slot from
the token bucket, ask the token cache for a token (refreshed if near expiry, which matters
after a long backoff), send with a ``requests.Session`` (connection reuse, gzip), then
classify the answer:

- 2xx: parse and validate the body; a malformed body is retried a couple of times;
- 401: invalidate the refused token, refresh, resend once; a second 401 is ``AuthError``;
- 403: ``AuthError`` at once (the app key is refused; a new token cannot help);
- 429: wait ``Retry-After`` (capped), without using up the error budget;
- 5xx, 408, timeouts, dropped connections: back off with full jitter, bounded;
- any other 4xx: ``RequestRejectedError`` with the server's own message, at once.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from stkpi import deadline as delivery_deadline
from stkpi import logs
from stkpi.config import Settings
from stkpi.servicetitan.auth import TokenCache
from stkpi.servicetitan.errors import (
    AuthError,
    FetchError,
    MalformedPageError,
    Redactor,
    RequestRejectedError,
    Target,
)
from stkpi.servicetitan.pages import error_message
from stkpi.servicetitan.ratelimit import TokenBucket
from stkpi.servicetitan.retry import Kind, RetryPolicy, parse_retry_after
from stkpi.servicetitan.stats import ClientStats, Counters

log = logs.get("stkpi.servicetitan")

T = TypeVar("T")

_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


# --- internal retry signals (never escape the transport) ---------------------------------


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


class _OutOfTime(Exception):
    """The request, or its next retry, would not end before its deadline."""


# An attempt needs at least this long to be worth making before a deadline.
MIN_ATTEMPT_SECONDS = 1.0


def _secret(settings: Settings, name: str) -> str:
    value = getattr(settings, name)
    return value.get_secret_value() if value is not None else ""


# --- the transport -------------------------------------------------------------------------


class Transport:
    """Sends requests to one tenant under one retry policy; thread-safe.

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
        reread: Callable[[], Settings] | None = None,
    ) -> None:
        self._settings = settings
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._sleep = sleep
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._rng = rng or random.Random()
        self._timeout = settings.st_request_timeout_seconds
        # Where the credentials are read again after a 401 (a rotated secret), once per
        # refused request before the refusal is final; None: they cannot change.
        self._reread = reread
        self._credentials_lock = threading.Lock()
        self._app_key = settings.st_app_key.get_secret_value()
        self._redact = Redactor(
            [
                settings.st_client_id.get_secret_value(),
                settings.st_client_secret.get_secret_value(),
                self._app_key,
            ]
        )
        self._local = threading.local()  # the deadline of this thread's request (tokens)
        self._bucket = TokenBucket(
            settings.st_rate_limit_per_second, burst=burst, clock=clock, sleep=sleep
        )
        self._tokens = TokenCache(
            self._fetch_token,
            clock=clock,
            margin=token_refresh_margin,
            on_new_token=self._redact.add,
        )
        self.counters = Counters()

    def url(self, path: str) -> str:
        return self._settings.st_api_base_url + path

    @property
    def stats(self) -> ClientStats:
        return self.counters.snapshot(
            token_refreshes=self._tokens.refreshes,
            rate_limit_wait_seconds=self._bucket.waited_seconds,
        )

    def close(self) -> None:
        """Close the HTTP session if this transport created it."""
        if self._owns_session:
            self._session.close()

    # -- one request with retries -----------------------------------------------------

    def request(
        self,
        url: str,
        params: dict[str, Any],
        target: Target,
        parse: Callable[[bytes, Target], T],
        *,
        json_body: dict[str, Any] | None = None,
        deadline: float | None = None,
    ) -> T:
        """Send one GET (a POST with ``json_body``) under the retry policy; return the parsed
        body or raise FetchError. ``deadline`` (on this transport's clock): the request and
        all its retries end before it (each attempt's timeout is cut to the time left, and
        a retry whose wait would pass it is not made), and before the delivery's deadline
        when the runtime set one (stkpi.deadline), whether the caller gave one or not (the
        reconciliation's Reporting API calls in the rebuild do not): no retry outlives the
        function that asked."""
        policy = self._policy
        tally: Counter[str] = Counter()
        deadline = self._within_delivery(deadline)
        self._local.deadline = deadline

        def send(headers: dict[str, str]) -> requests.Response:
            return self._session.request(
                "GET" if json_body is None else "POST",
                url,
                params=params,
                json=json_body,
                headers=headers,
                timeout=self._attempt_timeout(deadline, target),
                allow_redirects=False,  # never resend the app key and token elsewhere
            )

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
                seconds = policy.throttle_wait(exc.retry_after, tally[kind], self._rng)
            else:
                seconds = policy.backoff(tally[kind], self._rng)
            if deadline is not None and self._clock() + seconds + MIN_ATTEMPT_SECONDS > deadline:
                reason = exc.reason if isinstance(exc, _Retryable) else str(exc)
                raise _OutOfTime(
                    f"out of time: a retry in {seconds:.0f}s would not end before the "
                    f"delivery's deadline; last error: {reason}"
                )
            return seconds

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            seconds = state.upcoming_sleep
            self.counters.add("retries")
            self.counters.add("backoff_wait_seconds", seconds)
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
                    return self._attempt(send, target, parse)
        except _Malformed as exc:
            raise exc.error from None
        except _OutOfTime as exc:
            raise FetchError(target, self._redact(str(exc))) from None
        except _Retryable as exc:
            attempts = sum(tally.values())
            reason = self._redact(f"gave up after {attempts} attempts; last error: {exc.reason}")
            raise FetchError(target, reason, status=exc.status) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _attempt(
        self,
        send: Callable[[dict[str, str]], requests.Response],
        target: Target,
        parse: Callable[[bytes, Target], T],
    ) -> T:
        """One try, plus one immediate resend after refreshing a token the API refused,
        and one more after reading the credentials again (a rotated secret) if the fresh
        token was refused too; ``send`` sends the request with the headers given."""
        reread = False
        for auth_try in (1, 2, 3):
            self._bucket.acquire()
            try:
                token = self._tokens.get()
            except _AuthRefused as exc:
                if not reread and self._reread_credentials():
                    reread = True
                    continue
                raise AuthError(target, self._redact(str(exc))) from None
            headers = {
                "Authorization": f"Bearer {token}",
                "ST-App-Key": self._app_key,
                "Accept": "application/json",
                "Accept-Encoding": "gzip",
            }
            self.counters.add("requests")
            try:
                response = send(headers)
                body = response.content
            except _TRANSPORT_ERRORS as exc:
                raise self._transport_error(exc, "") from None
            except requests.exceptions.InvalidHeader:
                # Its text quotes the header value: the app key or the token. Never shown.
                raise AuthError(
                    target,
                    "the app key or the token cannot be sent as an HTTP header (it holds a "
                    "line break or a control character); check ST_APP_KEY",
                ) from None
            status = response.status_code
            if status == 401:
                self.counters.add("unauthorized")
                self._tokens.invalidate(token)
                if auth_try == 1:
                    continue  # a fresh token
                if not reread and self._reread_credentials():
                    reread = True
                    continue  # the secrets were rotated: a token from the new ones
                message = self._redact(error_message(body))
                raise AuthError(
                    target, f"HTTP 401 again after a token refresh: {message}", status=401
                )
            return self._classify(status, response, body, target, parse)
        raise AssertionError("unreachable")

    def _reread_credentials(self) -> bool:
        """Read the credentials again (a secret rotated while this instance was warm);
        True if they changed, and then the next token is asked for with them."""
        if self._reread is None:
            return False
        try:
            fresh = self._reread()
        except Exception:  # a broken source must not hide the 401 it was asked about
            log.warning("could not read the ServiceTitan credentials again")
            return False
        with self._credentials_lock:
            old = self._settings
            names = ("st_client_id", "st_client_secret", "st_app_key")
            if all(_secret(fresh, n) == _secret(old, n) for n in names):
                return False
            for name in names:
                self._redact.add(_secret(fresh, name))
            self._settings = old.model_copy(update={n: getattr(fresh, n) for n in names})
            self._app_key = _secret(fresh, "st_app_key")
            self._tokens.invalidate_all()
        self.counters.add("credentials_reread")
        log.info("ServiceTitan credentials changed since they were read: using the new ones")
        return True

    def _within_delivery(self, deadline: float | None) -> float | None:
        """``deadline``, or the current delivery's if that comes first, on this transport's
        clock (the delivery's is measured on the runtime's: only the time left carries)."""
        left = delivery_deadline.remaining()
        if left is None:
            return deadline
        ends = self._clock() + left
        return ends if deadline is None else min(deadline, ends)

    def _attempt_timeout(self, deadline: float | None, target: Target) -> float:
        """This attempt's timeout: the request timeout, cut to what is left before the
        deadline; none left is ``_OutOfTime``."""
        if deadline is None:
            return self._timeout
        left = deadline - self._clock()
        if left < MIN_ATTEMPT_SECONDS:
            raise _OutOfTime(f"out of time before {target.describe()} could be asked")
        return min(self._timeout, left)

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
                self.counters.add("malformed")
                clean = MalformedPageError(
                    target, self._redact(exc.detail), snippet=self._redact(exc.snippet)
                )
                raise _Malformed(clean) from None
        if 300 <= status < 400:
            self.counters.add("redirects")
            raise _Transient(self._redirect_reason(status, response), status=status)
        message = self._redact(error_message(body))
        self._raise_if_retryable(status, response, f"HTTP {status}: {message}")
        if status == 403:  # valid token, but the app key is unknown or not allowed here
            raise AuthError(target, f"HTTP 403: {message}", status=403)
        raise RequestRejectedError(target, f"HTTP {status}: {message}", status=status)

    def _redirect_reason(self, status: int, response: requests.Response) -> str:
        """A redirect is not followed: it would carry the app key, the token or the client
        secret to whatever host it names. Retried like a server error, then failed."""
        where = urlsplit(response.headers.get("Location") or "").netloc or "(no Location)"
        return self._redact(
            f"HTTP {status} redirect to {where} not followed: ServiceTitan's credentials "
            "are sent only to the configured API and auth URLs"
        )

    def _raise_if_retryable(self, status: int, response: requests.Response, reason: str) -> None:
        """A 429 waits its ``Retry-After``; 5xx and 408 back off (``reason`` says what failed)."""
        if status == 429:
            self.counters.add("throttled")
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise _Throttled(reason, retry_after=retry_after)
        if status >= 500 or status == 408:
            self.counters.add("server_errors")
            raise _Transient(reason, status=status)

    def _transport_error(self, exc: Exception, what: str) -> _Transient:
        """A timeout or broken connection, counted, as a retry signal (``what``: its prefix)."""
        self.counters.add("transport_errors")
        return _Transient(self._redact(f"{what}{type(exc).__name__}: {exc}"))

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
                timeout=self._attempt_timeout(
                    getattr(self._local, "deadline", None), Target("token request")
                ),
                allow_redirects=False,  # the client secret goes to the auth URL only
            )
            body = response.content
        except _TRANSPORT_ERRORS as exc:
            raise self._transport_error(exc, "token request: ") from None
        status = response.status_code
        if 300 <= status < 400:
            raise _Transient(f"token request: {self._redirect_reason(status, response)}")
        self._raise_if_retryable(status, response, f"token request: HTTP {status}")
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
        if any(not " " <= ch <= "~" for ch in value):
            # Sent, requests would refuse it with an error quoting it: never used or shown.
            raise _Transient("token request: the token issued cannot be sent as a header")
        self._redact.add(value)
        log.info("fetched a ServiceTitan access token", extra={"expires_in": ttl})
        return value, ttl
