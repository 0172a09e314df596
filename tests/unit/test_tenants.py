"""A tenant row is checked before anything is written: every problem named at once."""

from __future__ import annotations

import pytest

from stkpi.tenants import Tenant, TenantError, secret_names


def _tenant(**changes: object) -> Tenant:
    fields = {"tenant_id": "2000", "display_name": "Acme",
              "secrets": secret_names("proj-1", "2000"), "time_zone": "America/Phoenix"}  # fmt: skip
    return Tenant(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_valid_tenant_passes() -> None:
    assert _tenant().check() == _tenant()
    assert _tenant(weeks_start="sunday").check().weeks_start == "sunday"


def test_every_problem_is_named_in_one_message() -> None:
    bad = _tenant(tenant_id="20x0", display_name=" ", time_zone="Mars/Olympus",
                  weeks_start="someday", secrets={"ST_CLIENT_ID": "st-client-id"})  # fmt: skip
    with pytest.raises(TenantError) as err:
        bad.check()
    text = str(err.value)
    for part in ("'20x0'", "display name", "'Mars/Olympus'", "'someday'",
                 "needs exactly ST_CLIENT_ID, ST_CLIENT_SECRET, ST_APP_KEY",
                 "projects/PROJECT/secrets/ID"):  # fmt: skip
        assert part in text, part


@pytest.mark.parametrize("tenant_id", ["0", "01000", "-5", "1" * 20, "1000 "])
def test_tenant_ids_are_servicetitans_int64_ids(tenant_id: str) -> None:
    # the id names the tenant's datasets too: nothing but a positive int64 may pass
    with pytest.raises(TenantError, match="numeric tenant id"):
        _tenant(tenant_id=tenant_id).check()


def test_secret_names_follow_terraforms_names_with_the_prefix() -> None:
    assert secret_names("proj-1", "2000", "b-") == {
        "ST_CLIENT_ID": "projects/proj-1/secrets/b-st-t2000-client-id",
        "ST_CLIENT_SECRET": "projects/proj-1/secrets/b-st-t2000-client-secret",
        "ST_APP_KEY": "projects/proj-1/secrets/b-st-t2000-app-key",
    }


def test_an_added_tenant_sees_its_own_datasets_zone_week_and_secrets() -> None:
    from pydantic import SecretStr

    from stkpi.config import load_settings
    from stkpi.tenants import settings_for

    deployment = load_settings({
        "ST_API_BASE_URL": "http://127.0.0.1:1", "ST_AUTH_URL": "http://127.0.0.1:2",
        "GCP_PROJECT": "proj-1", "LANDING_BUCKET": "bkt", "BQ_DATASET_PREFIX": "b_st",
        "ST_TENANT_ID": "1000", "ST_CLIENT_ID": "the-deployments", "ST_APP_KEY": "its-key",
    })  # fmt: skip
    mine = settings_for(deployment, _tenant(time_zone="America/Los_Angeles", weeks_start="sunday"))
    assert mine.dataset("raw") == "b_st_t2000_raw"
    assert (mine.report_timezone, mine.weeks_start, mine.st_tenant_id) == (
        "America/Los_Angeles",
        "sunday",
        "2000",
    )
    # the deployment's own credentials never reach another tenant's calls
    assert (mine.st_client_id, mine.st_client_secret, mine.st_app_key) == (None, None, None)
    assert mine.st_secrets == secret_names("proj-1", "2000")
    assert deployment.st_client_id == SecretStr("the-deployments")  # unchanged
    with pytest.raises(TenantError):
        settings_for(deployment, _tenant(tenant_id="x"))
