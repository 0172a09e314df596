"""Secrets and deadlines in the ServiceTitan client, through the real ``requests`` code path
(the scripted adapter and fake clock of test_client_http: no sockets, no sleeping).

- an app key added from a file ends in a line break: it is stripped when read, and one with
  a line break inside is refused at start without its value; no exception text can carry
  a header value (requests' InvalidHeader quotes it);
- a redirect is never followed: the app key, the token and the client secret go to the
  configured URLs only;
- every request and its retries end before the deadline it is given;
- a 401 after a fresh token reads the credentials again once (a rotated secret) before it
  is final;
- a dead-letter reason fits Pub/Sub's 1,024 bytes of attribute value.
"""

from __future__ import annotations

import random
import traceback

import pytest
import requests
from test_client_http import (
    APP_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    END,
    RECORDS,
    START,
    FakeTime,
    Scripted,
    make,
    pages_of,
    settings,
)

from stkpi import deadline
from stkpi.bus import ATTRIBUTE_VALUE_BYTES, attribute_value
from stkpi.config import Settings, load_settings
from stkpi.errors import ConfigError
from stkpi.registry import get_entity
from stkpi.servicetitan import AuthError, FetchError, RetryPolicy, ServiceTitanClient

JOBS = get_entity("jobs")


def test_a_key_added_from_a_file_is_stripped_and_one_with_a_line_break_inside_is_refused():
    client, adapter, _ = make(pages_of(RECORDS), st_app_key=APP_KEY + "\n")
    client.page(JOBS, START, END, 1)
    assert adapter.requests[0].headers["ST-App-Key"] == APP_KEY
    assert adapter.token_forms[0]["client_secret"] == [CLIENT_SECRET]
    env = {
        "ST_API_BASE_URL": "http://st.test",
        "ST_AUTH_URL": "http://auth.test",
        "GCP_PROJECT": "p",
        "LANDING_BUCKET": "bucket",
        "ST_APP_KEY": "ak-secret\npart-two",
        "ST_CLIENT_SECRET": "  ",
    }
    with pytest.raises(ConfigError) as refused:
        load_settings(env)
    text = str(refused.value)
    assert "ST_APP_KEY" in text and "line break" in text and "ST_CLIENT_SECRET" in text
    assert "ak-secret" not in text and "part-two" not in text


def leaks(text: str, *secrets: str) -> list[str]:
    return [secret for secret in secrets if secret in text]


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record as a log sink would hold it: message, extras and traceback."""
    return "\n".join(
        f"{r.getMessage()} {r.__dict__} {caplog.handler.format(r)}" for r in caplog.records
    )


def test_no_secret_reaches_a_log_or_an_error_whatever_the_api_echoes(caplog):
    # A hostile API quotes back every credential it was sent, in 503, 429 and 401 bodies
    # and in the token endpoint's refusal; the app key was added from a file (a line break
    # at its end). The run fails (401 is final), and says why, without any of them.
    def echo(request) -> str:
        return f"{request.headers['ST-App-Key']} {request.headers['Authorization']}"

    replies = iter(
        [
            (503, {"title": "down", "detail": "x"}, {}),
            (429, {"title": "busy"}, {"Retry-After": "1"}),
        ]
    )

    def api(request) -> tuple:
        status, doc, headers = next(replies, (401, {"title": "Unauthorized"}, {}))
        return status, {**doc, "detail": echo(request)}, headers

    client, adapter, _ = make(api, st_app_key=APP_KEY + "\n")
    with caplog.at_level("DEBUG"), pytest.raises(AuthError) as refused:
        client.page(JOBS, START, END, 1)
    adapter.auth_reply = (401, {"error": "invalid_client", "detail": CLIENT_SECRET}, {})
    client._tokens.invalidate_all()
    with caplog.at_level("DEBUG"), pytest.raises(AuthError) as denied:
        client.page(JOBS, START, END, 1)
    tokens = [r.headers["Authorization"].removeprefix("Bearer ") for r in adapter.requests]
    secrets = (APP_KEY, CLIENT_ID, CLIENT_SECRET, *tokens)
    assert len(set(tokens)) >= 2 and "retrying" in caplog.text  # the echoes were logged...
    assert not leaks(logged(caplog), *secrets)  # ...without what they echoed
    for failed in (refused.value, denied.value):
        rendered = "".join(traceback.format_exception(failed)) + repr(failed)
        assert not leaks(rendered, *secrets), rendered
    assert "***" in str(refused.value)  # the echo was there, and was masked


def test_no_exception_text_carries_a_header_value(caplog):
    # A key that reaches the transport unchecked (built without validation): requests
    # refuses the header with a message quoting it; the client says what, never the value.
    client, _, _ = make(pages_of(RECORDS))
    bad = "ak-leaky\r\nX-Injected: 1"
    client._app_key = bad  # what an unchecked settings object would hold
    with caplog.at_level("DEBUG"), pytest.raises(AuthError) as failed:
        client.page(JOBS, START, END, 1)
    text = "".join(traceback.format_exception(failed.value)) + logged(caplog)
    assert "ak-leaky" not in text and "X-Injected" not in text
    assert "cannot be sent as an HTTP header" in text
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


def test_a_redirect_is_not_followed_and_carries_no_credential():
    def api(request) -> tuple:
        if request.url.startswith("http://elsewhere.test/"):
            raise AssertionError("the client followed a redirect to another host")
        return 307, b"", {"Location": "http://elsewhere.test/steal?x=1"}

    client, adapter, _ = make(api, policy=RetryPolicy(backoff_base=0.5, max_attempts=2))
    with pytest.raises(FetchError, match=r"redirect to elsewhere\.test not followed"):
        client.page(JOBS, START, END, 1)
    assert all(r.url.startswith("http://st.test/") for r in adapter.requests)
    assert client.stats.redirects == len(adapter.requests) >= 2
    # The token request is not followed either: the client secret goes to the auth URL only.
    adapter.auth_reply = (302, b"", {"Location": "http://elsewhere.test/connect/token"})
    client._tokens.invalidate_all()
    with pytest.raises(FetchError, match="token request: HTTP 302 redirect"):
        client.page(JOBS, START, END, 1)


def timed(adapter: Scripted, t: FakeTime) -> list[tuple[str, float, float]]:
    """Every request the adapter is sent from now on, as (which, sent at, timeout): the
    token requests ("auth") as well as the API's ("api")."""
    sent: list[tuple[str, float, float]] = []
    real_send = adapter.send

    def send(request, **kwargs):
        which = "auth" if request.url.startswith("http://auth.test/") else "api"
        sent.append((which, t.now, kwargs["timeout"]))
        return real_send(request, **kwargs)

    adapter.send = send  # type: ignore[method-assign]
    return sent


def down(request) -> tuple:
    return 503, {"title": "down"}, {}


def test_every_request_and_its_retries_end_before_the_deadline():
    # 503 for ever, 100 s timeouts and up to 6 retries: 10+ minutes without a deadline.
    client, adapter, t = make(down, policy=RetryPolicy(backoff_base=20, backoff_max=100))
    sent = timed(adapter, t)
    deadline = t.now + 90.0
    with pytest.raises(FetchError, match="out of time"):
        client.page(JOBS, START, END, 1, deadline=deadline)
    assert t.now <= deadline  # every wait ended before it
    assert len([s for s in sent if s[0] == "api"]) >= 2  # it did retry while time was left
    # Each attempt (the token request too) could have waited its whole timeout and still
    # ended by the deadline: its timeout was cut to the time left.
    assert all(at + timeout <= deadline for _, at, timeout in sent), sent
    assert min(timeout for _, _, timeout in sent) < 100
    with pytest.raises(FetchError, match="out of time before"):
        client.page(JOBS, START, END, 1, deadline=t.now + 0.5)  # nothing left to ask with


def test_a_retry_after_beyond_the_deadline_is_not_waited_for():
    # ServiceTitan asks for 120 s; the delivery has 60 s left: waiting would outlive it.
    client, adapter, t = make(lambda r: (429, {"title": "slow down"}, {"Retry-After": "120"}))
    with pytest.raises(FetchError, match=r"out of time: a retry in 120s") as info:
        client.page(JOBS, START, END, 1, deadline=t.now + 60.0)
    assert t.sleeps == [] and len(adapter.requests) == 1
    assert "slow down" in str(info.value)  # the last error is told, so the cause is known


def test_the_token_request_is_bounded_by_the_deadline_too():
    client, adapter, t = make(pages_of(RECORDS))
    sent = timed(adapter, t)
    # Too little time left for even the token request: nothing is sent at all.
    with pytest.raises(FetchError, match="out of time before token request"):
        client.page(JOBS, START, END, 1, deadline=t.now + 0.5)
    assert sent == [] and adapter.token_forms == []
    # 30 s left: the token request and the page each wait at most what is left.
    deadline = t.now + 30.0
    client.window_count(JOBS, START, END, deadline=deadline)
    assert [s[0] for s in sent] == ["auth", "api"]
    assert all(at + timeout <= deadline for _, at, timeout in sent), sent


def test_a_window_count_ends_before_its_deadline():
    client, adapter, t = make(down, policy=RetryPolicy(backoff_base=20, backoff_max=100))
    deadline = t.now + 45.0
    with pytest.raises(FetchError, match="out of time"):
        client.window_count(JOBS, START, END, deadline=deadline)
    assert t.now <= deadline and adapter.requests


def test_a_call_without_a_deadline_of_its_own_ends_before_the_deliverys():
    # The reconciliation asks the Reporting API from the rebuild's delivery and gives no
    # deadline: the delivery's (stkpi.runtime sets it from the function's timeout) bounds
    # it, as it bounds a later deadline a caller gives.
    client, adapter, t = make(down, policy=RetryPolicy(backoff_base=20, backoff_max=100,
                                                       max_attempts=1000))  # fmt: skip
    sent = timed(adapter, t)
    token = deadline.start(150.0, t.clock)
    try:
        with pytest.raises(FetchError, match="out of time"):
            client.post_json("/reporting/v2/tenant/4242/report-category/ops/reports/7/data",
                             {"page": 1}, {"parameters": []}, "reporting report 7")  # fmt: skip
        with pytest.raises(FetchError, match="out of time"):
            client.page(JOBS, START, END, 1, deadline=t.now + 600.0)  # later than the delivery's
    finally:
        deadline.reset(token)
    assert t.now <= 150.0 and all(at + timeout <= 150.0 for _, at, timeout in sent), sent
    assert len([s for s in sent if s[0] == "api"]) >= 2


def test_a_401_reads_the_credentials_again_once_before_it_is_final():
    rotated = {"key": APP_KEY}

    def api(request) -> tuple:
        if request.headers["ST-App-Key"] != "ak-rotated":
            return 401, {"title": "Unauthorized"}, {}
        return pages_of(RECORDS)(request)

    adapter = Scripted(api)
    session = requests.Session()
    session.mount("http://", adapter)
    t = FakeTime()
    base = settings()
    reads: list[int] = []

    def reread() -> Settings:
        reads.append(1)
        return settings(st_app_key=rotated["key"] + "\n")  # as stkpi.secrets reads it

    client = ServiceTitanClient(base, session=session, sleep=t.sleep, clock=t.clock,
                                rng=random.Random(1), reread=reread)  # fmt: skip
    # Not rotated: a fresh token, then one more read of the secrets, then final.
    with pytest.raises(AuthError, match="HTTP 401 again after a token refresh"):
        client.page(JOBS, START, END, 1)
    assert len(reads) == 1 and len(adapter.requests) == 2
    # Rotated while the instance was warm: the re-read finds the new key and goes on.
    rotated["key"] = "ak-rotated"
    page = client.page(JOBS, START, END, 1)
    assert [r["id"] for r in page.records] == [1, 2]
    assert adapter.requests[-1].headers["ST-App-Key"] == "ak-rotated"
    assert client.stats.credentials_reread == 1


@pytest.mark.parametrize("text", ["x" * 5000, "é" * 900, "🚫" * 400, "plain reason"])
def test_a_dead_letter_reason_fits_pubsub_attribute_bytes(text: str):
    value = attribute_value(text)
    assert len(value.encode("utf-8")) <= ATTRIBUTE_VALUE_BYTES
    assert text.startswith(value.removesuffix("...")) and (value == text) == (len(text) < 20)


def test_a_token_with_a_line_break_is_never_sent_and_a_new_one_is_asked_for(caplog):
    # A hostile auth server issues a token no header can carry: requests would raise an
    # error quoting it. The client asks for another instead, and never shows the first.
    client, adapter, _ = make(pages_of(RECORDS))
    issued = iter([(200, {"access_token": "tok-bad\nX-Injected: 1", "expires_in": 900}, {})])
    real = adapter.send

    def send(request, **kwargs):
        if request.url.startswith("http://auth.test/"):
            reply = next(issued, None)
            if reply is not None:
                adapter.token_forms.append({})
                return adapter._response(request, *reply)
        return real(request, **kwargs)

    adapter.send = send  # type: ignore[method-assign]
    with caplog.at_level("DEBUG"):
        page = client.page(JOBS, START, END, 1)
    assert [r["id"] for r in page.records] == [1, 2]
    assert all("tok-bad" not in r.headers["Authorization"] for r in adapter.requests)
    assert "cannot be sent as a header" in caplog.text and "tok-bad" not in logged(caplog)
    assert client.stats.token_refreshes == 1 and client.stats.retries == 1
