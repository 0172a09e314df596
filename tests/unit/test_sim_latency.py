"""The simulator's answer time: fixed + per record requested, applied without serialising.

No wall clock: the sleep is replaced by a recorder (what the request would wait) or by a
barrier that only opens when several requests sleep at the same moment.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from stkpi.registry import get_entity
from stkpi_tools.sim import api
from stkpi_tools.sim.config import FaultConfig, SimConfig
from stkpi_tools.sim.server import create_app, running_simulator

# The bench's ServiceTitan profile: ~1 s for a page of 5,000, ~80 ms for a count request.
ST_PROFILE = {"latency_ms": 80, "latency_per_record_ms": 0.184}


def test_model_is_fixed_plus_per_record_requested() -> None:
    cfg = FaultConfig(**ST_PROFILE)
    assert cfg.latency_seconds(5000) == pytest.approx(1.0)
    assert cfg.latency_seconds(1) == pytest.approx(0.080184)
    assert 0.05 <= cfg.latency_seconds(1) <= 0.1
    assert cfg.latency_seconds(500) == pytest.approx(0.172)
    assert cfg.latency_seconds(0) == pytest.approx(0.08)


def test_defaults_add_nothing_and_latency_ms_alone_is_the_old_fixed_delay() -> None:
    assert FaultConfig().latency_seconds(5000) == 0.0
    assert FaultConfig(latency_ms=200).latency_seconds(5000) == pytest.approx(0.2)
    assert SimConfig(latency_per_record_ms=0.5).faults().latency_per_record_ms == 0.5


def test_negative_latency_is_refused() -> None:
    with pytest.raises(ValueError, match="latency_per_record_ms"):
        FaultConfig().updated(latency_per_record_ms=-1)
    with pytest.raises(ValueError, match="latency_ms"):
        FaultConfig().updated(latency_ms=-5)


def _headers(client: Any, cfg: SimConfig) -> dict[str, str]:
    token = client.post(
        "/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": cfg.client_id,
            "client_secret": cfg.client_secret,
        },
    ).get_json()["access_token"]
    return {"Authorization": f"Bearer {token}", "ST-App-Key": cfg.app_key}


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(api, "_sleep", waits.append)
    return waits


def test_guard_charges_the_page_size_asked_for(slept: list[float]) -> None:
    cfg = SimConfig(rate_limit_per_second=10_000)
    app = create_app(cfg)
    jobs = get_entity("jobs").path(cfg.tenant_id)
    with app.test_client() as client:
        set_ = client.post("/_sim/faults", json=ST_PROFILE)  # the admin API sets the model
        assert set_.status_code == 200 and set_.get_json()["latency_per_record_ms"] == 0.184
        headers = _headers(client, cfg)
        for size in (5000, 1):
            resp = client.get(jobs, query_string={"pageSize": size}, headers=headers)
            assert resp.status_code == 200
        assert client.get(jobs, headers=headers).status_code == 200  # default page size
        assert client.get(jobs, query_string={"pageSize": "x"}, headers=headers).status_code == 400
        export = get_entity("jobs").export_path(cfg.tenant_id)
        assert client.get(export, headers=headers).status_code == 200
    assert slept == pytest.approx(
        [1.0, 0.080184, 0.08 + 0.184 * api.DEFAULT_PAGE_SIZE / 1000, 0.08,
         0.08 + 0.184 * cfg.export_page_size / 1000]
    )  # fmt: skip


def test_refusals_answer_at_once(slept: list[float]) -> None:
    """401 and 429 come from the gateway before any work: no answer time."""
    cfg = SimConfig(rate_limit_per_second=1)
    app = create_app(cfg)
    jobs = get_entity("jobs").path(cfg.tenant_id)
    with app.test_client() as client:
        client.post("/_sim/faults", json=ST_PROFILE)
        assert client.get(jobs).status_code == 401
        headers = _headers(client, cfg)
        codes = [client.get(jobs, headers=headers).status_code for _ in range(3)]
    assert codes[0] == 200 and 429 in codes
    assert len(slept) == codes.count(200)


def test_concurrent_requests_sleep_side_by_side(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several fetch workers' requests must overlap: each request's sleep waits at a
    barrier that opens only when all of them are sleeping at once. A lock held across
    the sleep, or a server answering one request at a time, would break the barrier."""
    parties = 4
    barrier = threading.Barrier(parties, timeout=30)
    monkeypatch.setattr(api, "_sleep", lambda _seconds: barrier.wait())
    with running_simulator(SimConfig(rate_limit_per_second=10_000)) as sim:
        sim.set_faults(**ST_PROFILE)
        token = requests.post(
            f"{sim.auth_url}/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": sim.client_id,
                "client_secret": sim.client_secret,
            },
            timeout=10,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "ST-App-Key": sim.app_key}
        url = sim.base_url + get_entity("jobs").path(sim.tenant_id)

        def get(_: int) -> int:
            return requests.get(
                url, params={"pageSize": 5000}, headers=headers, timeout=60
            ).status_code

        with ThreadPoolExecutor(parties) as pool:
            codes = list(pool.map(get, range(parties)))
    assert codes == [200] * parties
    assert not barrier.broken
