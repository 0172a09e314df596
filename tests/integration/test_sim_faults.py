"""Fault injection: what a resilient client must survive, injected on demand."""

from __future__ import annotations

import json

import pytest
import requests

from stkpi.registry import get_entity
from stkpi_tools.sim.admin import SimAdmin
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.server import SimHandle, running_simulator


@pytest.fixture(autouse=True)
def _clean(clean_sim: SimHandle) -> SimHandle:
    return clean_sim


def _headers(sim: SimHandle) -> dict[str, str]:
    resp = requests.post(
        f"{sim.auth_url}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
        },
        timeout=10,
    )
    return {"Authorization": f"Bearer {resp.json()['access_token']}", "ST-App-Key": sim.app_key}


def _get(sim: SimHandle, name: str, headers: dict[str, str], **params: object) -> requests.Response:
    url = sim.base_url + get_entity(name).path(sim.tenant_id)
    return requests.get(url, headers=headers, params=params, timeout=30)


def test_429_burst_hits_the_next_requests_only(sim: SimHandle) -> None:
    headers = _headers(sim)
    sim.set_faults(burst_429=2)
    codes = [_get(sim, "jobs", headers) for _ in range(3)]
    assert [r.status_code for r in codes] == [429, 429, 200]
    assert codes[0].headers["Retry-After"] == "1"


def test_error_rate_one_gives_503_json(sim: SimHandle) -> None:
    headers = _headers(sim)
    sim.set_faults(error_rate=1.0)
    resp = _get(sim, "jobs", headers)
    assert resp.status_code == 503 and resp.json()["status"] == 503
    assert sim.stats()["server_errors_5xx"] == 1


def test_error_rate_is_deterministic() -> None:
    def pattern() -> list[int]:
        with running_simulator(SimConfig(error_rate=0.5, rate_limit_per_second=10_000)) as s:
            headers = _headers(s)
            return [_get(s, "job_types", headers).status_code for _ in range(12)]

    first = pattern()
    assert first == pattern() and {200, 503} <= set(first)


def test_revoked_tokens_get_401(sim: SimHandle) -> None:
    headers = _headers(sim)
    assert _get(sim, "jobs", headers).status_code == 200
    sim.set_faults(revoke_tokens=True)
    assert _get(sim, "jobs", headers).status_code == 401
    assert _get(sim, "jobs", _headers(sim)).status_code == 200


def test_truncated_and_malformed_pages(sim: SimHandle) -> None:
    headers = _headers(sim)
    sim.set_faults(truncate_pages=1, malformed_pages=1)
    for _ in range(2):
        resp = _get(sim, "jobs", headers)
        assert resp.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(resp.text)
    assert _get(sim, "jobs", headers).json()["data"]


def test_body_fault_for_one_entity_page(sim: SimHandle) -> None:
    headers = _headers(sim)
    sim.set_faults(truncate_pages=1, fault_entity="invoices", fault_page=2)
    assert _get(sim, "jobs", headers, page=2).json()["data"]
    assert _get(sim, "invoices", headers, page=1).json()["data"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(_get(sim, "invoices", headers, page=2).text)


def test_latency_is_added(sim: SimHandle) -> None:
    headers = _headers(sim)
    sim.set_faults(latency_ms=300)
    assert _get(sim, "job_types", headers).elapsed.total_seconds() >= 0.3


def test_records_edited_while_paging_move_to_now(sim: SimHandle) -> None:
    headers = _headers(sim)
    sim.set_faults(edit_after_page=1, edit_count=5, edit_entity="jobs")
    _get(sim, "jobs", headers, page=1, pageSize=50)
    now = sim.tenant.now_iso()
    edited = [j for j in sim.snapshot("jobs") if j["modifiedOn"] == now]
    assert len(edited) == 5
    _get(sim, "jobs", headers, page=1, pageSize=50)  # fires once only
    assert len([j for j in sim.snapshot("jobs") if j["modifiedOn"] == now]) == 5


def test_faults_and_stats_over_http(sim: SimHandle) -> None:
    admin = SimAdmin(sim.base_url)
    try:
        settings = admin.set_faults(burst_429=1)
        assert settings["burst_429"] == 1
        headers = _headers(sim)
        assert _get(sim, "jobs", headers).status_code == 429
        stats = admin.stats()
        assert stats["throttled_429"] == 1
        assert stats["paths"][get_entity("jobs").path(sim.tenant_id)] == 1
        bad = requests.post(f"{sim.base_url}/_sim/faults", json={"nonsense": 1}, timeout=10)
        assert bad.status_code == 400 and "nonsense" in bad.json()["data"]["detail"]
        admin.reset()
        assert admin.stats()["requests"] == 0
        assert len(admin.snapshot("business_units")) == len(sim.snapshot("business_units"))
    finally:
        admin.close()
