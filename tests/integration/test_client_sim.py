"""The ServiceTitan client against the project's simulator: real HTTP, real faults.

Each scenario checks what the client returned against the simulator's own snapshot of the
tenant, so "recovered" means "returned exactly the right records", not just "did not
raise". Backoff bases are tiny so fault runs take seconds.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from stkpi.config import Settings, load_settings
from stkpi.registry import Entity, get_entity
from stkpi.servicetitan import (
    AuthError,
    MalformedPageError,
    RetryPolicy,
    ServiceTitanClient,
    paging_may_have_skipped,
)
from stkpi.windows import parse_ts
from stkpi_tools.sim.config import FaultConfig, SimConfig
from stkpi_tools.sim.server import running_simulator

pytestmark = pytest.mark.integration

FAST = RetryPolicy(backoff_base=0.01, backoff_max=0.05, max_attempts=8)
SCALE = 0.002


class RecordingSleep:
    """Records every requested sleep; really sleeps at most ``cap`` so Retry-After tests stay fast."""

    def __init__(self, cap: float = 0.05) -> None:
        self.cap = cap
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        time.sleep(min(seconds, self.cap))


@pytest.fixture(scope="module")
def sim():
    with running_simulator(SimConfig(scale=SCALE, rate_limit_per_second=1000)) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _clear_faults(sim):
    sim.set_faults(**_no_faults())
    yield
    sim.set_faults(**_no_faults())


def _no_faults() -> dict[str, object]:
    return {f.name: f.default for f in dataclasses.fields(FaultConfig)}


def settings_for(handle, **overrides: str) -> Settings:
    env = {
        **handle.env(),
        "GCP_PROJECT": "test",
        "LANDING_BUCKET": "test-bucket",
        "ST_RATE_LIMIT_PER_SECOND": "500",
        "ST_PAGE_SIZE": "50",
        "ST_REQUEST_TIMEOUT_SECONDS": "10",
        **overrides,
    }
    return load_settings(env)


def client_for(handle, *, sleep=time.sleep, policy=FAST, **overrides: str) -> ServiceTitanClient:
    return ServiceTitanClient(settings_for(handle, **overrides), sleep=sleep, policy=policy)


def fetch_all(client: ServiceTitanClient, entity: Entity, start, end) -> list[dict]:
    return [r for page in client.iter_pages(entity, start, end) for r in page.records]


def ids(records) -> set:
    return {r["id"] for r in records}


def in_window(records, field: str, start: datetime, end: datetime) -> list[dict]:
    return [r for r in records if r.get(field) and start <= parse_ts(r[field]) < end]


def sim_now(sim) -> datetime:
    return parse_ts(sim.tenant.now_iso())


@pytest.fixture
def client(sim) -> Iterator[ServiceTitanClient]:
    with client_for(sim) as c:
        yield c


def window(sim, days: int) -> tuple[datetime, datetime]:
    end = sim_now(sim) + timedelta(seconds=1)
    return end - timedelta(days=days), end


# --- paging and filters -----------------------------------------------------------


def test_pages_to_the_last_page_and_match_the_snapshot(sim, client):
    jobs = get_entity("jobs")
    start, end = window(sim, 365 * 5)
    pages = list(client.iter_pages(jobs, start, end))
    expected = in_window(sim.snapshot("jobs"), "modifiedOn", start, end)
    assert len(pages) >= 2, "scale too small to page"
    assert [p.number for p in pages] == list(range(1, len(pages) + 1))
    assert all(p.has_more for p in pages[:-1]) and not pages[-1].has_more
    got = [r for p in pages for r in p.records]
    assert len(got) == len(ids(got)) == len(expected)
    assert ids(got) == ids(expected)


def test_modified_window_is_half_open(sim, client):
    jobs = get_entity("jobs")
    start, end = window(sim, 60)
    got = fetch_all(client, jobs, start, end)
    expected = in_window(sim.snapshot("jobs"), "modifiedOn", start, end)
    assert ids(got) == ids(expected)
    assert all(start <= parse_ts(r["modifiedOn"]) < end for r in got)
    # a boundary record belongs to exactly one of two adjacent windows
    mid = start + (end - start) / 2
    left = fetch_all(client, jobs, start, mid)
    right = fetch_all(client, jobs, mid, end)
    assert ids(left).isdisjoint(ids(right)) and ids(left) | ids(right) == ids(got)


def test_created_window_filter(sim, client):
    by_created = dataclasses.replace(
        get_entity("jobs"), window_params=("createdOnOrAfter", "createdBefore")
    )
    start, end = window(sim, 90)
    got = fetch_all(client, by_created, start, end)
    expected = in_window(sim.snapshot("jobs"), "createdOn", start, end)
    assert got and ids(got) == ids(expected)


def test_active_any_returns_inactive_records(sim, client):
    customers = get_entity("customers")
    start, end = window(sim, 365 * 5)
    with_any = fetch_all(client, customers, start, end)
    only_active = fetch_all(client, dataclasses.replace(customers, extra_params={}), start, end)
    assert any(r["active"] is False for r in with_any), "tenant has no inactive customers"
    assert all(r["active"] is True for r in only_active)
    assert ids(only_active) < ids(with_any)
    assert ids(with_any) == ids(in_window(sim.snapshot("customers"), "modifiedOn", start, end))


def test_reference_entity_lists_everything_including_inactive(sim, client):
    units = get_entity("business_units")
    got = fetch_all(client, units, None, None)
    assert ids(got) == ids(sim.snapshot("business_units"))


def test_window_count_matches_paged_records(sim, client):
    jobs = get_entity("jobs")
    start, end = window(sim, 120)
    assert client.window_count(jobs, start, end) == len(fetch_all(client, jobs, start, end))


def test_export_follows_continuation_to_the_end(sim, client):
    jobs = get_entity("jobs")
    batches = list(client.iter_export(jobs))
    assert batches[-1].has_more is False
    got = {r["id"] for b in batches for r in b.records}
    assert got == ids(sim.snapshot("jobs"))


# --- auth ---------------------------------------------------------------------------


def test_short_token_ttl_refreshes_mid_run():
    """Tokens living 1 s expire many times during one window: the fetch never notices."""
    config = SimConfig(scale=SCALE, rate_limit_per_second=1000, token_ttl_seconds=1, latency_ms=40)
    with running_simulator(config) as handle, client_for(handle, ST_PAGE_SIZE="10") as c:
        jobs = get_entity("jobs")
        start, end = window(handle, 365 * 5)
        t0 = time.monotonic()
        got = fetch_all(c, jobs, start, end)
        elapsed = time.monotonic() - t0
        assert ids(got) == ids(in_window(handle.snapshot("jobs"), "modifiedOn", start, end))
        assert elapsed > 1.5, "run shorter than a token lifetime proves nothing"
        assert c.stats.token_refreshes >= 2
        assert handle.stats()["tokens_issued"] == c.stats.token_refreshes


def test_revoked_token_is_refreshed_once_and_the_fetch_goes_on(sim, client):
    jobs = get_entity("jobs")
    start, end = window(sim, 365 * 5)
    pages = client.iter_pages(jobs, start, end)
    first = next(pages)
    sim.set_faults(revoke_tokens=True)
    rest = [r for p in pages for r in p.records]
    expected = in_window(sim.snapshot("jobs"), "modifiedOn", start, end)
    assert ids(first.records) | ids(rest) == ids(expected)
    assert client.stats.unauthorized >= 1
    assert client.stats.token_refreshes == 2


def test_wrong_secret_is_an_auth_error_without_secrets(sim):
    c = client_for(sim, ST_CLIENT_SECRET="not-the-secret-xyz")
    with pytest.raises(AuthError) as info:
        c.window_count(get_entity("jobs"), *window(sim, 7))
    c.close()
    assert "not-the-secret-xyz" not in str(info.value)
    assert sim.client_secret not in str(info.value)


def test_wrong_app_key_is_an_auth_error_not_retried(sim):
    with client_for(sim, ST_APP_KEY="wrong-app-key-123") as c, pytest.raises(AuthError) as info:
        c.window_count(get_entity("jobs"), *window(sim, 7))
    assert "wrong-app-key-123" not in str(info.value)
    assert "HTTP 403" in str(info.value)


# --- throttling and server errors ------------------------------------------------------


def test_429_burst_is_ridden_out_honoring_retry_after(sim):
    sleep = RecordingSleep()
    with client_for(sim, sleep=sleep) as c:
        sim.set_faults(burst_429=3)
        jobs = get_entity("jobs")
        start, end = window(sim, 365 * 5)
        got = fetch_all(c, jobs, start, end)
        assert ids(got) == ids(in_window(sim.snapshot("jobs"), "modifiedOn", start, end))
        assert c.stats.throttled == 3
        # the server's Retry-After (1 s), not a backoff (FAST caps those at 0.05 s)
        assert [s for s in sleep.calls if s >= 0.5] == [1.0, 1.0, 1.0], sleep.calls


def test_client_rate_limit_keeps_under_a_strict_server_limit():
    config = SimConfig(scale=SCALE, rate_limit_per_second=20)
    with (
        running_simulator(config) as handle,
        client_for(handle, ST_RATE_LIMIT_PER_SECOND="15", ST_PAGE_SIZE="10") as c,
    ):
        jobs = get_entity("jobs")
        start, end = window(handle, 365)
        for _ in range(2):
            fetch_all(c, jobs, start, end)
        assert c.stats.requests >= 20
        assert c.stats.throttled == 0


def test_5xx_are_retried_and_the_result_is_complete(sim, client):
    sim.set_faults(error_rate=0.3)
    jobs = get_entity("jobs")
    start, end = window(sim, 365 * 5)
    got = fetch_all(client, jobs, start, end)
    sim.set_faults(error_rate=0.0)
    assert ids(got) == ids(in_window(sim.snapshot("jobs"), "modifiedOn", start, end))
    assert client.stats.server_errors > 0


# --- malformed bodies ---------------------------------------------------------------------


def test_one_truncated_page_is_retried(sim, client):
    sim.set_faults(truncate_pages=1, fault_entity="jobs", fault_page=2)
    jobs = get_entity("jobs")
    start, end = window(sim, 365 * 5)
    got = fetch_all(client, jobs, start, end)
    assert ids(got) == ids(in_window(sim.snapshot("jobs"), "modifiedOn", start, end))
    assert client.stats.malformed == 1


def test_persistently_malformed_page_raises_a_clear_error(sim, client):
    sim.set_faults(malformed_pages=100, fault_entity="jobs", fault_page=2)
    jobs = get_entity("jobs")
    start, end = window(sim, 365 * 5)
    pages = client.iter_pages(jobs, start, end)
    assert next(pages).number == 1
    with pytest.raises(MalformedPageError) as info:
        next(pages)
    text = str(info.value)
    assert "jobs window [" in text and "page 2" in text and "malformed page" in text
    assert sim.app_key not in text


# --- records edited while paging -------------------------------------------------------------


def test_edits_while_paging_are_detected_by_counts(sim):
    jobs = get_entity("jobs")
    with client_for(sim, ST_PAGE_SIZE="10") as c:
        start, end = window(sim, 365 * 5)
        end = end - timedelta(days=1)  # a past window: edits move records out of it
        before = c.window_count(jobs, start, end)
        assert before is not None and before > 50
        edited = before // 2  # enough that some sit on page 1, so later rows shift and skip
        sim.set_faults(edit_after_page=1, edit_count=edited, edit_entity="jobs")
        seen = ids(fetch_all(c, jobs, start, end))
        after = c.window_count(jobs, start, end)
        assert after == before - edited
        assert paging_may_have_skipped(before, after, len(seen))
        # re-reading the now-stable window returns every record still in it
        sim.set_faults(edit_after_page=None, edit_count=0)
        again = ids(fetch_all(c, jobs, start, end))
        assert not paging_may_have_skipped(after, c.window_count(jobs, start, end), len(again))
        expected = ids(in_window(sim.snapshot("jobs"), "modifiedOn", start, end))
        assert again == expected
        assert not expected <= seen, "the first pass should have skipped a record"
