"""One simulator, several tenants, as ServiceTitan serves them: one base URL and one auth URL,
each tenant with its own data (seed, scale), time zone, credentials, rate budget and faults.

The primary tenant of a simulator that serves more is the same tenant a simulator serving it
alone is, answer for answer; an added tenant is the tenant its seed and scale make; nothing
one tenant suffers (a fault, a revoked credential, a spent rate budget) touches another; a
token opens its own tenant only; an unknown tenant is refused in the spec's error shape.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from stkpi.registry import ENTITIES, get_entity
from stkpi_tools.sim.admin import SimAdmin
from stkpi_tools.sim.config import SimConfig, TenantSpec
from stkpi_tools.sim.reporting import report_id
from stkpi_tools.sim.reports import run_report
from stkpi_tools.sim.server import SimHandle, running_simulator
from stkpi_tools.sim.shapes import operation
from stkpi_tools.sim.tenant import Tenant
from stkpi_tools.st_spec import Validator, document

pytestmark = pytest.mark.integration

BASE = SimConfig(scale=0.002, seed=42, rate_limit_per_second=10_000, export_page_size=200)
NEVADA = TenantSpec("2000", seed=7, scale=0.003, time_zone="America/Los_Angeles")
SMALL = TenantSpec("3000", seed=11, scale=0.001)
# Entities of every page shape: paged lists, a bare array (bills), an export feed (jobs)
SAMPLED = ("jobs", "invoices", "inventory_bills", "business_units")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(SimConfig(**{**BASE.__dict__, "tenants": (NEVADA, SMALL)})) as h:
        yield h


@pytest.fixture(scope="module")
def alone() -> Iterator[SimHandle]:
    """The primary tenant served by a simulator of its own, as every test before #33 did."""
    with running_simulator(BASE) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _clean(sim: SimHandle) -> Iterator[None]:
    yield
    for tid in sim.tenant_ids:
        sim.of(tid).reset()


def _token(sim: SimHandle, client_id: str | None = None, secret: str | None = None) -> str:
    resp = requests.post(f"{sim.auth_url}/connect/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": client_id or sim.client_id,
        "client_secret": secret or sim.client_secret})  # fmt: skip
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def _headers(sim: SimHandle, token: str | None = None, app_key: str | None = None) -> dict:
    return {"Authorization": f"Bearer {token or _token(sim)}", "ST-App-Key": app_key or sim.app_key}


def _get(sim: SimHandle, name: str, headers: dict, tenant: str | None = None, **params: Any):
    url = sim.base_url + get_entity(name).path(tenant or sim.tenant_id)
    return requests.get(url, headers=headers, params=params, timeout=30)


def _every_record(sim: SimHandle, name: str) -> list[dict]:
    """A list read to its end over HTTP (the paged object's pages, or a bare array)."""
    headers, records, page = _headers(sim), [], 1
    params = {"pageSize": 500, **get_entity(name).extra_params}
    while True:
        body = _get(sim, name, headers, page=page, **params).json()
        if isinstance(body, list):
            return body
        records += body["data"]
        if not body["hasMore"]:
            return records
        page += 1


def _export_chain(sim: SimHandle, name: str) -> list[dict]:
    url = sim.base_url + get_entity(name).export_path(sim.tenant_id)
    headers, records, token = _headers(sim), [], None
    while True:
        body = requests.get(url, headers=headers, params={"from": token} if token else {},
                            timeout=30).json()  # fmt: skip
        records += body["data"]
        if not body["hasMore"]:
            return records
        token = body["continueFrom"]


def test_the_primary_serves_what_it_serves_alone(sim: SimHandle, alone: SimHandle) -> None:
    """Adding tenants changes nothing of the primary's answers: lists of every page shape,
    an export chain, a report, and every entity's records (the tests, the calibration and
    the demo rely on a seed and scale making the same tenant)."""
    for name in SAMPLED:
        got = _every_record(sim, name)
        assert got and got == _every_record(alone, name), name
    assert _export_chain(sim, "jobs") == _export_chain(alone, "jobs")
    for entity in ENTITIES:
        assert sim.snapshot(entity.name) == alone.snapshot(entity.name), entity.name
    assert sim.tenant.counts() == alone.tenant.counts()


def test_an_added_tenant_is_the_tenant_its_seed_and_scale_make(sim: SimHandle) -> None:
    nevada = sim.of(NEVADA.tenant_id)
    own = Tenant(SimConfig(seed=NEVADA.seed, scale=NEVADA.scale))
    for name in SAMPLED:
        assert _every_record(nevada, name) == own.snapshot(name), name
    assert nevada.tenant.counts() == own.counts()
    # different sizes: the sizes the specs asked for, not the primary's
    small = sim.of(SMALL.tenant_id).tenant.counts()["jobs"]
    assert small < sim.tenant.counts()["jobs"] < nevada.tenant.counts()["jobs"]


def test_each_tenant_has_its_own_credentials_and_a_token_opens_its_own_tenant(
    sim: SimHandle,
) -> None:
    nevada = sim.of(NEVADA.tenant_id)
    creds = {(t.client_id, t.client_secret, t.app_key) for t in map(sim.of, sim.tenant_ids)}
    assert len(creds) == 3 and len({c for c, _, _ in creds}) == 3
    mine, theirs = _token(sim), _token(nevada)
    assert _get(nevada, "jobs", _headers(nevada, theirs)).status_code == 200
    # another tenant's token on this tenant's path (with either app key): refused
    for token, app_key, tenant in ((mine, sim.app_key, nevada.tenant_id),
                                   (mine, nevada.app_key, nevada.tenant_id),
                                   (theirs, nevada.app_key, sim.tenant_id)):  # fmt: skip
        resp = _get(sim, "jobs", _headers(sim, token, app_key), tenant=tenant)
        assert resp.status_code == 403, (tenant, resp.text)
    # a secret of another tenant's client gets no token
    resp = requests.post(f"{sim.auth_url}/connect/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": nevada.client_id,
        "client_secret": sim.client_secret})  # fmt: skip
    assert resp.status_code == 401 and resp.json() == {"error": "invalid_client"}


def test_an_unknown_tenant_is_answered_in_the_spec_s_error_shape(sim: SimHandle) -> None:
    """The specs type ``{tenant}`` as an int64 and document one error body, 400's
    ``ApiErrorResponse``: a tenant id that is no int64 is that 400 naming the parameter; a
    numeric one no tenant has is 404, in the same shape."""
    jobs = get_entity("jobs")
    op = operation(jobs, "list")
    schema = op.doc["responses"]["400"]["content"]["application/json"]["schema"]
    validator = Validator(document(op.module))
    headers = _headers(sim)
    bad, unknown = (_get(sim, "jobs", headers, tenant=t) for t in ("acme", "4242"))
    assert bad.status_code == 400 and list(bad.json()["errors"]) == ["tenant"]
    assert unknown.status_code == 404 and "4242" in unknown.json()["data"]["detail"]
    problems = validator.problems(bad.json(), schema, "400") + validator.problems(
        unknown.json(), schema, "404"
    )
    assert not problems, problems
    # the Reporting API's paths alike
    url = f"{sim.base_url}/reporting/v2/tenant/4242/report-categories"
    assert requests.get(url, headers=headers, timeout=10).status_code == 404


def test_a_fault_in_one_tenant_touches_no_other(sim: SimHandle) -> None:
    nevada, small = sim.of(NEVADA.tenant_id), sim.of(SMALL.tenant_id)
    nevada.set_faults(error_rate=1.0, denied_modules=["jpm"], burst_429=3)
    small.set_faults(credentials_revoked=True)
    headers = _headers(sim)
    for _ in range(5):
        assert _get(sim, "jobs", headers).status_code == 200
    nv = _headers(nevada)
    assert _get(nevada, "jobs", nv).status_code == 403  # its jpm scope denied
    assert [_get(nevada, "invoices", nv).status_code for _ in range(4)] == [429, 429, 429, 503]
    # revoked credentials: no token for that tenant's client; the others' still come
    resp = requests.post(f"{sim.auth_url}/connect/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": small.client_id,
        "client_secret": small.client_secret})  # fmt: skip
    assert resp.status_code == 401
    _token(sim)
    # each tenant's counters hold its own requests only (a token request: its client's)
    mine = sim.stats()
    assert mine["paths"][get_entity("jobs").path(sim.tenant_id)] == 5
    assert set(mine["paths"]) == {get_entity("jobs").path(sim.tenant_id), "/connect/token"}
    assert not any(k.startswith(("status_4", "status_5")) for k in mine["counters"])
    theirs = nevada.stats()
    assert (theirs["throttled_429"], theirs["server_errors_5xx"], theirs["requests"]) == (3, 1, 6)
    assert small.stats()["counters"] == {"requests": 1, "status_401": 1, "tokens_revoked": 1}


def test_the_rate_budget_is_per_app_key_and_tenant(sim: SimHandle) -> None:
    nevada = sim.of(NEVADA.tenant_id)
    sim.set_faults(rate_limit_per_second=2)
    nevada.set_faults(rate_limit_per_second=2)
    mine, theirs = _headers(sim), _headers(nevada)
    # a spent budget of one tenant: 429 there; the other tenant's budget is whole
    assert 429 in [_get(sim, "business_units", mine).status_code for _ in range(4)]
    assert [_get(nevada, "business_units", theirs).status_code for _ in range(2)] == [200, 200]


def test_the_admin_api_addresses_one_tenant_and_the_clock_is_one(sim: SimHandle) -> None:
    admin = SimAdmin(sim.base_url)
    try:
        listed = admin.tenants()
        assert [t["tenant_id"] for t in listed] == sim.tenant_ids
        assert listed[1]["time_zone"] == "America/Los_Angeles"
        nevada = admin.of(NEVADA.tenant_id)
        assert nevada.counts() == sim.of(NEVADA.tenant_id).tenant.counts()
        assert admin.counts() == sim.tenant.counts() != nevada.counts()
        edited = nevada.edit("jobs", 2)
        assert nevada.stats()["requests"] == 0 and len(edited) == 2
        assert {r["id"] for r in sim.of(NEVADA.tenant_id).snapshot("jobs")} >= set(edited)
        nevada.set_faults(burst_429=1)
        assert admin.faults()["burst_429"] == 0 and nevada.faults()["burst_429"] == 1
        before = admin.now
        nevada.advance(24)  # one clock: every tenant's day moves
        assert admin.now == sim.of(SMALL.tenant_id).now == before + dt.timedelta(hours=24)
        with pytest.raises(requests.HTTPError, match="404"):
            admin.of("4242").counts()
    finally:
        sim.set_now(BASE.now)
        admin.close()


def test_each_tenant_s_reports_are_in_its_own_time_zone(sim: SimHandle) -> None:
    """Nevada's reports count local dates in Los Angeles (UTC-8 in winter), the primary's in
    Phoenix (UTC-7): a payment at 07:30 UTC on 2 January is on the 1st in one, the 2nd in
    the other, so a winter month's daily figures differ between the zones."""
    nevada = sim.of(NEVADA.tenant_id)
    headers = _headers(nevada)
    start, end = dt.date(2025, 1, 1), dt.date(2025, 2, 28)
    rid = report_id(NEVADA.tenant_id, "payments")
    url = (f"{sim.base_url}/reporting/v2/tenant/{NEVADA.tenant_id}/report-category/"
           f"accounting/reports/{rid}/data")  # fmt: skip
    body = {"parameters": [{"name": "From", "value": str(start)},
                           {"name": "To", "value": str(end)}]}  # fmt: skip
    resp = requests.post(url, headers=headers, json=body, params={"pageSize": 25_000}, timeout=60)
    assert resp.status_code == 200, resp.text
    source = nevada.tenant.snapshot
    local = run_report("payments", source, start, end, None, "America/Los_Angeles")
    assert resp.json()["data"] == local
    assert local != run_report("payments", source, start, end, None, "America/Phoenix")
