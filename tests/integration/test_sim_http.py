"""The simulator's HTTP contract, as the ServiceTitan client sees it."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from stkpi.registry import ENTITIES, get_entity
from stkpi_tools.sim.admin import SimAdmin
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.server import SimHandle, running_simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(SimConfig(rate_limit_per_second=10_000, export_page_size=100)) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _clean(sim: SimHandle) -> Iterator[None]:
    sim.reset()
    yield
    sim.reset()


def _token(sim: SimHandle) -> str:
    resp = requests.post(
        f"{sim.auth_url}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
        },
        timeout=10,
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    return body["access_token"]


def _headers(sim: SimHandle, token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or _token(sim)}", "ST-App-Key": sim.app_key}


def _get(sim: SimHandle, name: str, headers: dict[str, str], **params: Any) -> requests.Response:
    url = sim.base_url + get_entity(name).path(sim.tenant_id)
    return requests.get(url, headers=headers, params=params, timeout=30)


def _fetch_all(sim: SimHandle, name: str, headers: dict[str, str], **params: Any) -> list[dict]:
    """Every record of a list, the paged object's or a bare array's (the spec's shapes)."""
    records, page = [], 1
    while True:
        body = _get(sim, name, headers, page=page, pageSize=100, **params).json()
        data = body if isinstance(body, list) else body["data"]
        records.extend(data)
        more = len(data) == 100 if isinstance(body, list) else body["hasMore"]
        if not more:
            return records
        page += 1


def test_bad_credentials_get_no_token(sim: SimHandle) -> None:
    resp = requests.post(
        f"{sim.auth_url}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sim.client_id,
            "client_secret": "wrong",
        },
        timeout=10,
    )
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"


def test_api_needs_a_bearer_token(sim: SimHandle) -> None:
    resp = _get(sim, "jobs", {"ST-App-Key": sim.app_key})
    assert resp.status_code == 401 and resp.json()["status"] == 401
    resp = _get(sim, "jobs", {"ST-App-Key": sim.app_key, "Authorization": "Bearer nope"})
    assert resp.status_code == 401


def test_api_needs_the_app_key(sim: SimHandle) -> None:
    token = _token(sim)
    resp = _get(sim, "jobs", {"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403 and "ST-App-Key" in resp.json()["data"]["detail"]


def test_unknown_path_and_wrong_tenant_are_404_json(sim: SimHandle) -> None:
    headers = _headers(sim)
    resp = requests.get(f"{sim.base_url}/jpm/v2/tenant/1000/nothing", headers=headers, timeout=10)
    assert resp.status_code == 404 and resp.json()["status"] == 404
    resp = requests.get(sim.base_url + get_entity("jobs").path("999"), headers=headers, timeout=10)
    assert resp.status_code == 404 and "tenant" in resp.json()["data"]["detail"]


@pytest.mark.parametrize("entity", [e.name for e in ENTITIES])
def test_every_entity_pages_to_the_end(sim: SimHandle, entity: str) -> None:
    records = _fetch_all(sim, entity, _headers(sim), **get_entity(entity).extra_params)
    truth = sim.snapshot(entity)
    assert records == truth


def test_a_parameter_the_spec_does_not_list_is_refused(sim: SimHandle) -> None:
    # Jobs have no active filter and payments spell it activeState: a client that sends
    # what the spec does not list fails here, as it would silently on a real tenant.
    headers = _headers(sim)
    for name, param in (("jobs", "active"), ("payments", "active"), ("jobs", "paidOn")):
        resp = _get(sim, name, headers, **{param: "Any"})
        assert resp.status_code == 400 and resp.json()["data"]["parameter"] == param
        assert "ServiceTitan's spec" in resp.json()["data"]["detail"]
    assert _get(sim, "payments", headers, activeState="All").status_code == 200


def test_the_inventory_bills_list_is_a_bare_array(sim: SimHandle) -> None:
    body = _get(sim, "inventory_bills", _headers(sim), pageSize=5).json()
    assert isinstance(body, list) and len(body) == 5 and "billAmount" in body[0]


def test_paging_reports_has_more_and_total(sim: SimHandle) -> None:
    headers = _headers(sim)
    total = len(sim.snapshot("jobs"))
    first = _get(sim, "jobs", headers, pageSize=10, includeTotal="true").json()
    assert first["page"] == 1 and first["pageSize"] == 10 and first["hasMore"] is True
    assert first["totalCount"] == total and len(first["data"]) == 10
    last_page = (total + 9) // 10
    last = _get(sim, "jobs", headers, pageSize=10, page=last_page).json()
    assert last["hasMore"] is False and last["totalCount"] is None
    assert len(last["data"]) == total - 10 * (last_page - 1)
    assert _get(sim, "jobs", headers).json()["pageSize"] == 50


def test_active_defaults_to_true_and_any_returns_inactive(sim: SimHandle) -> None:
    headers = _headers(sim)
    default = _fetch_all(sim, "customers", headers)
    everything = _fetch_all(sim, "customers", headers, active="Any")
    inactive = _fetch_all(sim, "customers", headers, active="False")
    assert all(c["active"] for c in default)
    assert len(default) + len(inactive) == len(everything) and inactive


def test_window_filters_are_half_open(sim: SimHandle) -> None:
    headers = _headers(sim)
    lo, hi = "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"
    window = _fetch_all(sim, "jobs", headers, modifiedOnOrAfter=lo, modifiedBefore=hi)
    assert window and all(lo <= j["modifiedOn"] < hi for j in window)
    expected = [j for j in sim.snapshot("jobs") if lo <= j["modifiedOn"] < hi]
    assert window == expected
    created = _fetch_all(sim, "jobs", headers, createdOnOrAfter=lo, createdBefore=hi)
    assert created and all(lo <= j["createdOn"] < hi for j in created)


@pytest.mark.parametrize(
    ("param", "value"),
    [("modifiedOnOrAfter", "yesterday"), ("createdBefore", "2024-13-01"), ("pageSize", "5001"),
     ("pageSize", "0"), ("page", "0"), ("page", "x"), ("active", "maybe"), ("includeTotal", "y")],
)  # fmt: skip
def test_bad_parameters_are_400_naming_the_parameter(
    sim: SimHandle, param: str, value: str
) -> None:
    resp = _get(sim, "jobs" if param != "active" else "customers", _headers(sim), **{param: value})
    assert resp.status_code == 400
    assert resp.json()["data"]["parameter"] == param and param in resp.json()["errors"]


def test_export_resumes_inclusively_from_its_token(sim: SimHandle) -> None:
    headers = _headers(sim)
    url = sim.base_url + get_entity("jobs").export_path(sim.tenant_id)
    seen: dict[int, dict] = {}
    token, calls = None, 0
    while True:
        body = requests.get(
            url, headers=headers, params={"from": token} if token else {}, timeout=30
        ).json()
        calls += 1
        if token is not None:
            assert body["data"][0]["id"] in seen  # the boundary record is re-read
        seen.update((r["id"], r) for r in body["data"])
        token = body["continueFrom"]
        if not body["hasMore"]:
            break
    assert calls > 1
    assert sorted(seen) == sorted(j["id"] for j in sim.snapshot("jobs"))
    bad = requests.get(url, headers=headers, params={"from": "%%%"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["data"]["parameter"] == "from"


def test_gzip_when_asked(sim: SimHandle) -> None:
    headers = {**_headers(sim), "Accept-Encoding": "gzip"}
    url = sim.base_url + get_entity("jobs").path(sim.tenant_id)
    raw = requests.get(url, headers=headers, stream=True, timeout=10).raw
    assert raw.headers["Content-Encoding"] == "gzip"
    assert b'"data"' in gzip.decompress(raw.read())


def test_rate_limit_answers_429_with_retry_after() -> None:
    with running_simulator(SimConfig(rate_limit_per_second=2)) as sim:
        headers = _headers(sim)
        codes = [_get(sim, "job_types", headers) for _ in range(6)]
        limited = [r for r in codes if r.status_code == 429]
        assert limited and int(limited[0].headers["Retry-After"]) >= 1
        assert sim.stats()["throttled_429"] == len(limited)


def test_token_expires_after_its_ttl() -> None:
    with running_simulator(SimConfig(token_ttl_seconds=1)) as sim:
        headers = _headers(sim)
        assert _get(sim, "job_types", headers).status_code == 200
        time.sleep(1.2)
        assert _get(sim, "job_types", headers).status_code == 401


def test_clock_advance_over_http_shows_new_records(sim: SimHandle) -> None:
    admin = SimAdmin(sim.base_url)
    before = len(admin.snapshot("jobs"))
    start = admin.now
    try:
        admin.advance(24 * 7)
        assert len(admin.snapshot("jobs")) > before
    finally:
        admin.set_now(start)
        admin.close()


def test_deleted_records_vanish_over_http_even_with_active_any(sim: SimHandle) -> None:
    admin = SimAdmin(sim.base_url)
    headers = _headers(sim)
    customers = _fetch_all(sim, "customers", headers, active="Any")
    gone = [customers[0]["id"], next(c["id"] for c in customers if not c["active"])]
    try:
        assert admin.delete("customers", ids=gone) == sorted(gone)
        left = {c["id"] for c in _fetch_all(sim, "customers", headers, active="Any")}
        assert not left & set(gone) and len(left) == len(customers) - 2
        assert admin.deleted("customers") == sorted(gone)
        bad = requests.post(
            f"{sim.base_url}/_sim/delete", json={"entity": "customers", "ids": [1]}, timeout=10
        )
        assert bad.status_code == 400
        assert (
            bad.json()["data"]["detail"]
            == "delete customers: customers: no visible record with id(s) [1]"
        )
    finally:
        admin.restore("customers", gone)
        admin.close()
