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

import pytest
import requests
from test_client_http import (
    APP_KEY,
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


def test_no_exception_text_carries_a_header_value():
    # A key that reaches the transport unchecked (built without validation): requests
    # refuses the header with a message quoting it; the client says what, never the value.
    client, _, _ = make(pages_of(RECORDS))
    bad = "ak-leaky\r\nX-Injected: 1"
    client._app_key = bad  # what an unchecked settings object would hold
    with pytest.raises(AuthError) as failed:
        client.page(JOBS, START, END, 1)
    text = "".join(str(a) for a in failed.value.args) + str(failed.value)
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


def test_every_request_and_its_retries_end_before_the_deadline():
    # 503 for ever, 100 s timeouts and up to 6 retries: 10+ minutes without a deadline.
    timeouts: list[float] = []

    def api(request) -> tuple:
        return 503, {"title": "down"}, {}

    client, adapter, t = make(api, policy=RetryPolicy(backoff_base=20, backoff_max=100))
    real_send = adapter.send

    def send(request, **kwargs):
        if not request.url.startswith("http://auth.test/"):
            timeouts.append(kwargs["timeout"])
        return real_send(request, **kwargs)

    adapter.send = send  # type: ignore[method-assign]
    deadline = t.now + 90.0
    with pytest.raises(FetchError, match="out of time"):
        client.page(JOBS, START, END, 1, deadline=deadline)
    assert t.now <= deadline  # every wait ended before it
    assert all(timeout <= deadline for timeout in timeouts)
    assert max(timeouts) < 100  # each attempt's timeout cut to the time left
    with pytest.raises(FetchError, match="out of time before"):
        client.page(JOBS, START, END, 1, deadline=t.now + 0.5)  # nothing left to ask with


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


def test_a_token_with_a_line_break_is_never_sent_and_a_new_one_is_asked_for():
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
    page = client.page(JOBS, START, END, 1)
    assert [r["id"] for r in page.records] == [1, 2]
    assert all("tok-bad" not in r.headers["Authorization"] for r in adapter.requests)
    assert client.stats.token_refreshes == 1 and client.stats.retries == 1
