"""The simulator's ``denied_modules`` lever: an app without an API scope gets 403s there."""

from __future__ import annotations

import pytest

from stkpi.registry import ENTITIES, get_entity
from stkpi_tools.sim.config import FaultConfig, SimConfig
from stkpi_tools.sim.faults import FaultState
from stkpi_tools.sim.server import create_app


def test_fault_state_denies_only_the_listed_modules() -> None:
    faults = FaultState(FaultConfig(), seed=1)
    assert not faults.denies("payroll")
    faults.update(denied_modules=["payroll", "crm"])  # a JSON list, as the admin API sends
    assert faults.config.denied_modules == ("payroll", "crm")
    assert faults.denies("payroll") and faults.denies("crm") and not faults.denies("jpm")
    faults.update(denied_modules="jpm")  # one name is one module, not its letters
    assert faults.config.denied_modules == ("jpm",)
    faults.reset()
    assert not faults.denies("jpm")


@pytest.fixture(scope="module")
def client():  # type: ignore[no-untyped-def]
    app = create_app(SimConfig(rate_limit_per_second=10_000))
    with app.test_client() as test_client:
        yield test_client


def test_denied_module_answers_403_with_servicetitans_error_shape(client) -> None:  # type: ignore[no-untyped-def]
    cfg = SimConfig()
    token = client.post(
        "/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": cfg.client_id,
            "client_secret": cfg.client_secret,
        },
    ).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "ST-App-Key": cfg.app_key}

    set_ = client.post("/_sim/faults", json={"denied_modules": ["payroll"]})
    assert set_.status_code == 200 and set_.get_json()["denied_modules"] == ["payroll"]
    try:
        for entity in ENTITIES:
            query = {"page": 1, "pageSize": 1, **entity.extra_params}
            if entity.window_params is not None:
                after, before = entity.window_params
                query |= {after: "2020-01-01T00:00:00Z", before: "2030-01-01T00:00:00Z"}
            resp = client.get(entity.path(cfg.tenant_id), query_string=query, headers=headers)
            if entity.module == "payroll":
                body = resp.get_json()
                assert resp.status_code == 403, entity.name
                assert body["status"] == 403 and body["title"] == "Forbidden"
                assert "'payroll' API" in body["data"]["detail"] and "errors" in body
            else:
                assert resp.status_code == 200, (entity.name, resp.get_json())
        export = get_entity("jobs").export_path(cfg.tenant_id)
        assert client.get(export, headers=headers).status_code == 200
    finally:
        client.post("/_sim/reset")
    payroll = get_entity("payroll_adjustments").path(cfg.tenant_id)
    assert client.get(payroll, headers=headers).status_code == 200  # reset lifts it
