"""The client's request loop against a scripted in-process transport (no sockets).

A fake ``requests`` adapter answers each request from a handler, so auth, retries,
throttling and error wording are tested through the real ``requests`` code path, with a
fake clock: no test sleeps.
"""

from __future__ import annotations

import json
import random
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from stkpi.config import Settings
from stkpi.errors import PermanentError
from stkpi.registry import get_entity
from stkpi.servicetitan import (
    AuthError,
    FetchError,
    MalformedPageError,
    RequestRejectedError,
    RetryPolicy,
    ServiceTitanClient,
)

CLIENT_ID = "cid-7f3a9c"
CLIENT_SECRET = "csecret-0b1d2e3f"
APP_KEY = "ak-5e6f7a8b"
START = datetime(2025, 8, 11, tzinfo=UTC)
END = datetime(2025, 8, 18, tzinfo=UTC)

Reply = tuple[int, object, dict[str, str]]


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Scripted(BaseAdapter):
    """Routes token requests to ``auth`` and API requests to ``api`` handlers."""

    def __init__(self, api: Callable[[requests.PreparedRequest], Reply]) -> None:
        super().__init__()
        self.api = api
        self.tokens_issued = 0
        self.token_ttl = 900
        self.auth_reply: Reply | None = None
        self.requests: list[requests.PreparedRequest] = []
        self.time: FakeTime | None = None
        self.latency = 0.01  # each API call takes 10 ms of fake time (rate 1000/s never waits)
        self.token_forms: list[dict[str, list[str]]] = []

    def send(self, request, **kwargs):  # type: ignore[override]
        if request.url.startswith("http://auth.test/"):
            assert request.url == "http://auth.test/connect/token"
            self.token_forms.append(parse_qs(request.body))
            if self.auth_reply is not None:
                return self._response(request, *self.auth_reply)
            self.tokens_issued += 1
            doc = {"access_token": f"tok-{self.tokens_issued}", "expires_in": self.token_ttl}
            return self._response(request, 200, doc, {})
        self.requests.append(request)
        if self.time is not None:
            self.time.now += self.latency
        return self._response(request, *self.api(request))

    @staticmethod
    def _response(request, status: int, payload: object, headers: dict[str, str]):
        if isinstance(payload, Exception):
            raise payload
        response = requests.Response()
        response.status_code = status
        response._content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        response.headers = CaseInsensitiveDict(headers)
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def settings(**overrides) -> Settings:
    values = dict(
        st_api_base_url="http://st.test",
        st_auth_url="http://auth.test",
        st_tenant_id="4242",
        st_client_id=CLIENT_ID,
        st_client_secret=CLIENT_SECRET,
        st_app_key=APP_KEY,
        st_rate_limit_per_second=1000,
        st_page_size=2,
        gcp_project="p",
        landing_bucket="bucket",
    )
    values.update(overrides)
    return Settings(**values)


def make(api, *, policy: RetryPolicy | None = None, **overrides):
    adapter = Scripted(api)
    session = requests.Session()
    session.mount("http://", adapter)
    t = FakeTime()
    adapter.time = t
    client = ServiceTitanClient(
        settings(**overrides),
        session=session,
        sleep=t.sleep,
        clock=t.clock,
        policy=policy or RetryPolicy(backoff_base=0.5),
        rng=random.Random(7),
    )
    return client, adapter, t


def query(request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}


def pages_of(records: list[dict], size: int = 2) -> Callable[[requests.PreparedRequest], Reply]:
    def api(request) -> Reply:
        q = query(request)
        page, size_ = int(q["page"]), int(q["pageSize"])
        chunk = records[(page - 1) * size_ : page * size_]
        more = page * size_ < len(records)
        doc = {"page": page, "pageSize": size_, "hasMore": more, "totalCount": None, "data": chunk}
        if q.get("includeTotal") == "true":
            doc["totalCount"] = len(records)
        return 200, doc, {}

    return api


RECORDS = [{"id": i} for i in range(1, 6)]


def test_pages_stream_with_window_params_auth_and_app_key():
    client, adapter, _ = make(pages_of(RECORDS))
    pages = list(client.iter_pages(get_entity("jobs"), START, END))
    assert [p.number for p in pages] == [1, 2, 3]
    assert [r["id"] for p in pages for r in p.records] == [1, 2, 3, 4, 5]
    assert [p.has_more for p in pages] == [True, True, False]
    first = adapter.requests[0]
    assert urlsplit(first.url).path == "/jpm/v2/tenant/4242/jobs"
    assert query(first) == {
        "modifiedOnOrAfter": "2025-08-11T00:00:00Z",
        "modifiedBefore": "2025-08-18T00:00:00Z",
        "page": "1",
        "pageSize": "2",
        "includeTotal": "true",  # the window's count rides on every page
    }
    assert [p.total_count for p in pages] == [5, 5, 5]
    assert first.headers["Authorization"] == "Bearer tok-1"
    assert first.headers["ST-App-Key"] == APP_KEY
    assert first.headers["Accept-Encoding"] == "gzip"
    assert adapter.token_forms == [
        {
            "grant_type": ["client_credentials"],
            "client_id": [CLIENT_ID],
            "client_secret": [CLIENT_SECRET],
        }
    ]
    stats = client.stats
    assert (stats.requests, stats.pages, stats.records, stats.token_refreshes) == (3, 3, 5, 1)


def test_pages_are_fetched_lazily():
    client, adapter, _ = make(pages_of(RECORDS))
    it = client.iter_pages(get_entity("jobs"), START, END)
    assert adapter.requests == []
    next(it)
    assert len(adapter.requests) == 1


def test_page_from_resumes_mid_window():
    client, adapter, _ = make(pages_of(RECORDS))
    pages = list(client.iter_pages(get_entity("jobs"), START, END, page_from=2))
    assert [p.number for p in pages] == [2, 3]
    assert query(adapter.requests[0])["page"] == "2"


def test_before_parse_runs_once_per_body_after_it_arrived():
    # Page 2 comes back damaged once, then whole: two bodies, so the hook runs twice, each
    # time after the request was answered (never before sending, where a caller waiting
    # for its turn would hold up the request itself).
    answered: list[int] = []
    hooked: list[int] = []
    good = pages_of(RECORDS)

    def api(request) -> Reply:
        answered.append(int(query(request)["page"]))
        if len(answered) == 1:
            return 200, b'{"page": 2, "data": [', {}
        return good(request)

    client, _, _ = make(api)
    page = client.page(
        get_entity("jobs"), START, END, 2, before_parse=lambda: hooked.append(len(answered))
    )
    assert [r["id"] for r in page.records] == [3, 4]
    assert hooked == [1, 2]  # after the first answer, after the second


def test_reference_entity_ignores_window_and_asks_for_inactive_and_a_count():
    # A reference list is counted like a window (stkpi.fetch: its keys must add up).
    client, adapter, _ = make(pages_of(RECORDS))
    list(client.iter_pages(get_entity("business_units"), START, END))
    q = query(adapter.requests[0])
    assert q == {"active": "Any", "page": "1", "pageSize": "2", "includeTotal": "true"}


def test_extra_params_sent_with_window():
    client, adapter, _ = make(pages_of(RECORDS))
    list(client.iter_pages(get_entity("customers"), START, END))
    assert query(adapter.requests[0])["active"] == "Any"
    assert query(adapter.requests[0])["modifiedOnOrAfter"] == "2025-08-11T00:00:00Z"


@pytest.mark.parametrize(
    ("start", "end"),
    [(None, END), (START, None), (END, START), (datetime(2025, 8, 11), END)],
)
def test_windowed_entity_rejects_bad_bounds_before_any_request(start, end):
    client, adapter, _ = make(pages_of(RECORDS))
    with pytest.raises(PermanentError):
        client.iter_pages(get_entity("jobs"), start, end)
    assert adapter.requests == []


def test_window_count_uses_include_total_and_one_record_page():
    client, adapter, _ = make(pages_of(RECORDS))
    assert client.window_count(get_entity("jobs"), START, END) == 5
    q = query(adapter.requests[0])
    assert (q["includeTotal"], q["pageSize"], q["page"]) == ("true", "1", "1")


def test_export_follows_continuation_tokens():
    def api(request) -> Reply:
        token = query(request).get("from")
        nxt = {None: ("t1", True), "t1": ("t2", True), "t2": ("t2", False)}[token]
        return 200, {"data": [{"id": token}], "hasMore": nxt[1], "continueFrom": nxt[0]}, {}

    client, adapter, _ = make(api)
    got = list(client.iter_export(get_entity("jobs")))
    assert [(b.records[0]["id"], b.continue_from, b.has_more) for b in got] == [
        (None, "t1", True),
        ("t1", "t2", True),
        ("t2", "t2", False),
    ]
    assert urlsplit(adapter.requests[0].url).path == "/jpm/v2/tenant/4242/export/jobs"
    resumed = list(client.iter_export(get_entity("jobs"), continue_from="t2"))
    assert len(resumed) == 1


def test_export_that_does_not_advance_is_an_error_not_a_loop():
    client, _, _ = make(
        lambda r: (200, {"data": [{"id": 1}], "hasMore": True, "continueFrom": "x"}, {})
    )
    with pytest.raises(MalformedPageError, match="did not advance"):
        list(client.iter_export(get_entity("jobs"), continue_from="x"))


def test_export_requires_an_export_endpoint():
    client, _, _ = make(pages_of(RECORDS))
    with pytest.raises(PermanentError):
        client.iter_export(get_entity("job_types"))


def test_token_refreshed_before_expiry_not_after():
    client, adapter, t = make(pages_of(RECORDS))
    adapter.token_ttl = 100  # margin = 10 s (10% of a short TTL)
    client.window_count(get_entity("jobs"), START, END)
    t.now += 89
    client.window_count(get_entity("jobs"), START, END)
    assert adapter.tokens_issued == 1
    t.now += 2  # 91 s: inside the refresh margin
    client.window_count(get_entity("jobs"), START, END)
    assert adapter.tokens_issued == 2
    assert adapter.requests[-1].headers["Authorization"] == "Bearer tok-2"


def test_401_refreshes_once_and_retries():
    def api(request) -> Reply:
        if request.headers["Authorization"] == "Bearer tok-1":
            return 401, {"title": "token revoked"}, {}
        return pages_of(RECORDS)(request)

    client, adapter, t = make(api)
    assert client.window_count(get_entity("jobs"), START, END) == 5
    assert adapter.tokens_issued == 2
    assert t.sleeps == []  # a refused token is not a reason to back off
    assert client.stats.unauthorized == 1


def test_second_401_is_auth_error():
    client, adapter, _ = make(lambda r: (401, {"title": "bad app key"}, {}))
    with pytest.raises(AuthError, match="401 again after a token refresh: bad app key") as info:
        client.window_count(get_entity("jobs"), START, END)
    assert isinstance(info.value, PermanentError)
    assert adapter.tokens_issued == 2


def test_403_is_auth_error_without_retry():
    client, adapter, t = make(
        lambda r: (403, {"title": "Forbidden", "detail": "unknown app key"}, {})
    )
    with pytest.raises(AuthError, match="HTTP 403: Forbidden; unknown app key"):
        client.window_count(get_entity("jobs"), START, END)
    assert len(adapter.requests) == 1 and t.sleeps == []


def test_token_endpoint_refusal_is_auth_error():
    client, adapter, _ = make(pages_of(RECORDS))
    adapter.auth_reply = (400, {"error": "invalid_client"}, {})
    with pytest.raises(AuthError, match="invalid_client"):
        client.window_count(get_entity("jobs"), START, END)
    assert adapter.requests == []


def test_token_is_reapplied_after_a_long_backoff():
    """A token that expires while backing off is refreshed before the retry is sent."""
    calls = iter([(429, {"title": "busy"}, {"Retry-After": "90"})])

    def api(request) -> Reply:
        return next(calls, None) or pages_of(RECORDS)(request)

    client, adapter, t = make(api)
    adapter.token_ttl = 60
    client.window_count(get_entity("jobs"), START, END)
    assert t.sleeps == [90.0]  # longer than the token lives
    assert [r.headers["Authorization"] for r in adapter.requests] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]


def test_429_waits_retry_after():
    replies = iter([(429, {"title": "slow down"}, {"Retry-After": "7"})] * 2)

    def api(request) -> Reply:
        return next(replies, None) or pages_of(RECORDS)(request)

    client, _, t = make(api)
    assert client.window_count(get_entity("jobs"), START, END) == 5
    assert t.sleeps == [7.0, 7.0]
    assert (client.stats.throttled, client.stats.retries) == (2, 2)


def test_429_retry_after_is_capped():
    replies = iter([(429, {}, {"Retry-After": "86400"})])

    def api(request) -> Reply:
        return next(replies, None) or pages_of(RECORDS)(request)

    client, _, t = make(api)
    client.window_count(get_entity("jobs"), START, END)
    assert t.sleeps == [120.0]


def test_throttling_does_not_use_up_the_error_budget():
    replies = iter([(503, {}, {}), (429, {}, {"Retry-After": "1"})] * 4)

    def api(request) -> Reply:
        return next(replies, None) or pages_of(RECORDS)(request)

    client, _, _ = make(api, policy=RetryPolicy(max_attempts=5, backoff_base=0.01))
    assert client.window_count(get_entity("jobs"), START, END) == 5


def test_5xx_and_transport_errors_back_off_then_recover():
    replies = iter(
        [
            (500, {"title": "oops"}, {}),
            (0, requests.ConnectionError("connection reset"), {}),
            (0, requests.ReadTimeout("read timed out"), {}),
            (502, b"<html>bad gateway</html>", {}),
        ]
    )

    def api(request) -> Reply:
        return next(replies, None) or pages_of(RECORDS)(request)

    client, _, t = make(api, policy=RetryPolicy(backoff_base=0.5, backoff_max=30))
    assert client.window_count(get_entity("jobs"), START, END) == 5
    assert len(t.sleeps) == 4
    for n, wait in enumerate(t.sleeps, start=1):
        assert 0 <= wait <= 0.5 * 2 ** (n - 1)
    stats = client.stats
    assert (stats.server_errors, stats.transport_errors, stats.retries) == (2, 2, 4)


def test_5xx_gives_up_after_bounded_attempts_with_context():
    client, adapter, _ = make(lambda r: (503, {"title": "maintenance"}, {}))
    with pytest.raises(FetchError) as info:
        list(client.iter_pages(get_entity("invoices"), START, END))
    err = info.value
    assert not isinstance(err, PermanentError)
    assert len(adapter.requests) == 6
    text = str(err)
    assert "invoices window [2025-08-11T00:00:00Z, 2025-08-18T00:00:00Z) page 1" in text
    assert "gave up after 6 attempts" in text
    assert "HTTP 503: maintenance" in text
    assert err.status == 503


def test_malformed_body_retried_briefly_then_raises():
    client, adapter, _ = make(
        lambda r: (200, b'{"page": 1, "hasMore": true, "data": [{"id": 1', {})
    )
    with pytest.raises(MalformedPageError) as info:
        list(client.iter_pages(get_entity("jobs"), START, END))
    assert len(adapter.requests) == 3  # first try + max_malformed (2) retries
    text = str(info.value)
    assert "jobs window [2025-08-11T00:00:00Z, 2025-08-18T00:00:00Z) page 1" in text
    assert "not JSON" in text and '{"page": 1' in text


def test_transient_truncation_recovers():
    replies = iter([(200, b'{"page": 1, "hasM', {})])

    def api(request) -> Reply:
        return next(replies, None) or pages_of(RECORDS)(request)

    client, _, _ = make(api)
    assert client.window_count(get_entity("jobs"), START, END) == 5
    assert client.stats.malformed == 1


def test_other_4xx_raises_at_once_with_server_message():
    problem = {"title": "One or more validation errors occurred.", "errors": {"pageSize": ["bad"]}}
    client, adapter, t = make(lambda r: (400, problem, {}))
    with pytest.raises(RequestRejectedError) as info:
        list(client.iter_pages(get_entity("jobs"), START, END))
    assert len(adapter.requests) == 1 and t.sleeps == []
    assert "HTTP 400: One or more validation errors occurred." in str(info.value)
    assert "pageSize" in str(info.value)
    assert isinstance(info.value, PermanentError)


def test_errors_never_contain_credentials_or_tokens():
    """Even a server that echoes secrets back cannot make them reach a message or log."""
    leaky = f"app key {APP_KEY} token tok-1 client {CLIENT_ID} secret {CLIENT_SECRET}"

    cases = [
        lambda r: (503, {"title": leaky}, {}),
        lambda r: (400, {"title": leaky}, {}),
        lambda r: (200, leaky.encode(), {}),
        lambda r: (0, requests.ConnectionError(leaky), {}),
    ]
    for api in cases:
        client, _, _ = make(api)
        with pytest.raises(FetchError) as info:
            client.window_count(get_entity("jobs"), START, END)
        rendered = "".join(traceback.format_exception(info.value)) + repr(info.value)
        for secret in (APP_KEY, "tok-1", CLIENT_ID, CLIENT_SECRET):
            assert secret not in rendered
        assert "***" in str(info.value)
    assert APP_KEY not in repr(client) and CLIENT_SECRET not in repr(client)


def test_auth_error_never_contains_credentials():
    client, adapter, _ = make(pages_of(RECORDS))
    adapter.auth_reply = (401, {"error": "invalid_client", "error_description": CLIENT_SECRET}, {})
    with pytest.raises(AuthError) as info:
        client.window_count(get_entity("jobs"), START, END)
    rendered = "".join(traceback.format_exception(info.value))
    assert CLIENT_SECRET not in rendered and CLIENT_ID not in rendered


def test_retry_logs_never_contain_secrets(caplog):
    replies = iter([(503, {"title": f"echo {APP_KEY} tok-1"}, {})])

    def api(request) -> Reply:
        return next(replies, None) or pages_of(RECORDS)(request)

    client, _, _ = make(api)
    with caplog.at_level("INFO", logger="stkpi.servicetitan"):
        client.window_count(get_entity("jobs"), START, END)
    assert "retrying jobs window" in caplog.text
    assert APP_KEY not in caplog.text and "tok-1" not in caplog.text


def test_rate_limit_applies_to_every_request():
    client, adapter, t = make(pages_of(RECORDS), st_rate_limit_per_second=2)
    adapter.latency = 0
    list(client.iter_pages(get_entity("jobs"), START, END))
    assert t.sleeps == pytest.approx([0.5, 0.5])
    assert client.stats.rate_limit_wait_seconds == pytest.approx(1.0)


def test_close_leaves_a_borrowed_session_open():
    client, _, _ = make(pages_of(RECORDS))
    client.close()
    client.window_count(get_entity("jobs"), START, END)  # session still usable
    with ServiceTitanClient(settings()) as owned:
        assert "4242" in repr(owned)
