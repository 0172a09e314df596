"""Tenants as data: ``stkpi tenant add`` registers another tenant of the deployment only once
the doctor's checks pass with that tenant's own credentials, read from its own secrets;
``stkpi tenant list`` shows it next to the deployment's default tenant, which keeps working
from its settings as before.

The simulator here serves tenant 2000; the deployment's default tenant is the local
stack's 1000. There is no Secret Manager emulator, so the tenant's secrets are files in
``ST_SECRETS_DIR`` (``stkpi_tools.tenant.add``), named as terraform names them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.api_core.exceptions import NotFound

from stkpi.config import load_settings
from stkpi.secrets import SecretReader
from stkpi.tenants import Tenant, read_tenants, secret_names
from stkpi.warehouse import run_file
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.server import SimHandle, running_simulator
from stkpi_tools.tenant.add import TenantRefused, add_tenant, directory_accessor

pytestmark = pytest.mark.integration

_STKPI = Path(sys.executable).with_name("stkpi")
_COMMAND = [str(_STKPI)] if _STKPI.exists() else [sys.executable, "-m", "stkpi_tools.cli"]
OTHER = "2000"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(
        SimConfig(tenant_id=OTHER, rate_limit_per_second=10_000, client_secret="s3cr3t-2000")
    ) as handle:
        yield handle


@pytest.fixture
def deployment(bq_emulator, sim: SimHandle, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The CLI's environment: the local deployment (default tenant 1000) on datasets of its
    own, pointed at the simulator, with an empty Secret Manager stand-in."""
    prefix = f"tr{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ST_", "BQ_DATASET"))}
    env |= bq_emulator.env | {
        "BQ_DATASET_PREFIX": prefix,
        "ST_API_BASE_URL": sim.base_url,
        "ST_AUTH_URL": sim.auth_url,
        "ST_SECRETS_DIR": str(tmp_path / "secrets"),
        "STKPI_STACK_ROOT": str(tmp_path / "no-stack"),
    }
    (tmp_path / "secrets").mkdir()
    settings = load_settings(env)
    client = bq_emulator.client
    client.create_dataset(f"{settings.gcp_project}.{settings.dataset('ops')}")
    run_file(client, settings, "ops/tenants.sql")
    yield env
    client.delete_dataset(f"{settings.gcp_project}.{settings.dataset('ops')}", delete_contents=True)
    for layer in ("raw", "stage", "dim", "mart", "ops"):  # an added tenant's (tenant add)
        client.delete_dataset(f"{settings.gcp_project}.{prefix}_t{OTHER}_{layer}",
                              delete_contents=True, not_found_ok=True)  # fmt: skip


def _put_secrets(env: dict[str, str], sim: SimHandle, **override: str) -> dict[str, str]:
    """Write tenant 2000's secrets as terraform names them; ``override``: other values
    (by credential, lower case), ``""`` leaves that secret without a value."""
    config = sim.state.config
    values = {"ST_CLIENT_ID": config.client_id, "ST_CLIENT_SECRET": config.client_secret,
              "ST_APP_KEY": config.app_key}  # fmt: skip
    names = secret_names(env["GCP_PROJECT"], OTHER)
    for cred, name in names.items():
        value = override.get(cred.lower(), values[cred])
        if value:
            # as `gcloud secrets versions add --data-file` of a file would: a trailing newline
            (Path(env["ST_SECRETS_DIR"]) / name.rsplit("/", 1)[-1]).write_text(value + "\n")
    return names


def _stkpi(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_COMMAND, *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def _registered(bq_emulator, env: dict[str, str]) -> list[Tenant]:
    return read_tenants(bq_emulator.client, load_settings(env))


def _tables(bq_emulator, env: dict[str, str]) -> set[str]:
    """``layer.table`` of every table in tenant OTHER's datasets (none: no dataset)."""
    settings = load_settings(env)
    found = set()
    for layer in ("raw", "ops"):
        dataset = f"{settings.gcp_project}.{settings.bq_dataset_prefix}_t{OTHER}_{layer}"
        with contextlib.suppress(NotFound):
            found |= {f"{layer}.{t.table_id}" for t in bq_emulator.client.list_tables(dataset)}
    return found


def test_add_with_a_wrong_secret_is_refused_and_writes_nothing(
    bq_emulator, sim: SimHandle, deployment: dict[str, str], tmp_path: Path
) -> None:
    _put_secrets(deployment, sim, st_client_secret="not-the-secret")
    got = _stkpi(deployment, tmp_path, "tenant", "add", "--tenant-id", OTHER, "--name", "Acme")
    out = " ".join((got.stdout + got.stderr).split())
    assert got.returncode == 2, out
    assert f"tenant {OTHER} not added" in out
    # the failing check, the doctor's fix, and which secrets to correct
    assert "token granted" in out and "ST_CLIENT_SECRET" in out
    assert f"st-t{OTHER}-client-secret" in out
    assert "not-the-secret" not in out and "Traceback" not in out
    assert _registered(bq_emulator, deployment) == []
    assert _tables(bq_emulator, deployment) == set()  # no dataset made for a refused tenant


def test_a_secret_without_a_value_is_named_and_nothing_is_written(
    bq_emulator, sim: SimHandle, deployment: dict[str, str]
) -> None:
    names = _put_secrets(deployment, sim, st_app_key="")
    settings = load_settings(deployment)
    reader = SecretReader(directory_accessor(Path(deployment["ST_SECRETS_DIR"])))
    tenant = Tenant(OTHER, "Acme", names, "America/Denver")
    with pytest.raises(TenantRefused, match=f"secret st-t{OTHER}-app-key has no value"):
        add_tenant(bq_emulator.client, settings, tenant, reader, at=dt.datetime.now(dt.UTC))
    assert _registered(bq_emulator, deployment) == []


def test_the_default_tenant_is_not_added_again(
    bq_emulator, sim: SimHandle, deployment: dict[str, str]
) -> None:
    settings = load_settings(deployment)  # ST_TENANT_ID=1000, the local stack's
    names = secret_names(settings.gcp_project, "1000")
    reader = SecretReader(directory_accessor(Path(deployment["ST_SECRETS_DIR"])))
    with pytest.raises(TenantRefused, match="default tenant"):
        add_tenant(bq_emulator.client, settings, Tenant("1000", "Again", names, "UTC"), reader,
                   at=dt.datetime.now(dt.UTC))  # fmt: skip
    assert _registered(bq_emulator, deployment) == []


def test_add_then_list_shows_both_tenants_and_the_latest_version_wins(
    bq_emulator, sim: SimHandle, deployment: dict[str, str], tmp_path: Path
) -> None:
    names = _put_secrets(deployment, sim)
    args = ("tenant", "add", "--tenant-id", OTHER, "--name", "Acme Painting",
            "--time-zone", "America/Los_Angeles")  # fmt: skip
    got = _stkpi(deployment, tmp_path, *args)
    assert got.returncode == 0, got.stdout + got.stderr
    assert f"added tenant {OTHER} (Acme Painting): doctor ok" in " ".join(got.stdout.split())
    assert sim.state.config.client_secret not in got.stdout + got.stderr
    # its datasets and tables, the deployment's DDL on <prefix>_t<id>_*; the registry and
    # the maps stay the deployment's only
    tables = _tables(bq_emulator, deployment)
    assert {"raw.jobs", "raw.invoices", "ops.sync_state", "ops.window_events"} <= tables
    assert not {"ops.tenants", "ops.tenant_bu_map"} & tables

    got = _stkpi(deployment, tmp_path, "tenant", "add", "--tenant-id", OTHER, "--name",
                 "Acme Painting NV", "--time-zone", "America/Los_Angeles",
                 "--weeks-start", "Sunday")  # fmt: skip
    assert got.returncode == 0, got.stdout + got.stderr
    assert f"updated tenant {OTHER}" in got.stdout

    got = _stkpi(deployment, tmp_path, "tenant", "list", "--json")
    assert got.returncode == 0, got.stderr
    rows = {r["tenant_id"]: r for r in json.loads(got.stdout)}
    assert set(rows) == {"1000", OTHER}
    # the default tenant: the deployment's own settings, unchanged
    assert rows["1000"]["default"] is True
    assert rows["1000"]["time_zone"] == load_settings(deployment).report_timezone
    # the added one: its latest version, its own secrets by name (never a value)
    other = rows[OTHER]
    assert (other["display_name"], other["time_zone"], other["weeks_start"]) == (
        "Acme Painting NV", "America/Los_Angeles", "sunday")  # fmt: skip
    assert other["secrets"] == names
    assert sim.state.config.client_secret not in got.stdout
