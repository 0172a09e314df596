"""The simulator's tenants as data: what a tenants file may say, and what it may not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stkpi_tools.sim.config import (
    SIM_CLIENT_ID,
    SimConfig,
    TenantSpec,
    load_tenant_specs,
    tenant_specs,
)


def test_a_tenants_file_gives_each_tenant_its_own_settings(tmp_path: Path) -> None:
    doc = {"tenants": {
        "2000": {"display_name": "Silver State", "seed": 7, "scale": 0.004,
                 "time_zone": "America/Los_Angeles", "weeks_start": "sunday"},
        "3000": {"seed": "11"},
    }}  # fmt: skip
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps(doc))
    nevada, small = load_tenant_specs(path)
    assert (nevada.tenant_id, nevada.seed, nevada.scale, nevada.time_zone) == (
        "2000", 7, 0.004, "America/Los_Angeles")  # fmt: skip
    assert (small.seed, small.scale) == (11, TenantSpec.scale)
    primary, *added = SimConfig(tenants=(nevada, small), burst_429=5).tenant_configs()
    # the primary keeps its own faults; an added tenant starts with none, and its own
    # credentials, distinct from every other tenant's
    assert primary.burst_429 == 5 and all(c.burst_429 == 0 for c in added)
    assert {c.client_id for c in added} == {f"{SIM_CLIENT_ID}-2000", f"{SIM_CLIENT_ID}-3000"}
    assert len({c.app_key for c in (primary, *added)}) == 3
    assert added[0].display_name == "Silver State" and added[1].display_name


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"2000": {"scale": 0.1}}, "tenant '2000': needs a seed"),
        ({"2000": {"seed": "x"}}, "tenant '2000': invalid literal"),
        ({"2000": "big"}, "tenant '2000': expected an object"),
        (["2000"], "expected an object of tenant id"),
        ({"2000": {"seed": 1, "colour": "red"}}, None),  # a field it does not read: skipped
    ],
)
def test_a_tenants_document_that_cannot_be_used_is_named(doc, message) -> None:
    if message is None:
        assert tenant_specs(doc)[0].seed == 1
        return
    with pytest.raises(ValueError, match=message):
        tenant_specs(doc, "tenants.json")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (TenantSpec("1000", seed=1), "share a tenant_id: 1000"),
        (TenantSpec("2000", seed=1, client_id=SIM_CLIENT_ID), "share a client_id"),
        (TenantSpec("acme", seed=1), "tenant id must be ServiceTitan's"),
        (TenantSpec("2000", seed=1, time_zone="Mars/Olympus"), "not an IANA zone"),
        (TenantSpec("2000", seed=1, scale=0), "scale must be in"),
    ],
)
def test_tenants_a_server_cannot_tell_apart_are_refused(spec: TenantSpec, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimConfig(tenants=(spec,)).tenant_configs()
