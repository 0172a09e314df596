"""The local stack serves several tenants: its simulator answers for each added tenant,
terraform/ is evaluated with them, their credentials wait as their secrets in
``ST_SECRETS_DIR``, and ``stkpi tenant add`` (the operator's step) passes its doctor with
each tenant's own credentials, and refuses another tenant's.

No function servers: what is checked here is the stack's topology, secrets and CLI, not a
run (the end-to-end tests of #33 use ``tenant_stack``, which has them).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_harness import ADDED_TENANTS, TenantStack, in_process_pipeline, multi_tenant_stack

from stkpi.config import load_settings
from stkpi.gcp import bigquery_client
from stkpi.secrets import SECRETS_DIR_ENV, SecretReader, directory_accessor
from stkpi.tenant_maps import read_bu_map, read_report_map
from stkpi.tenants import Tenant, secret_names
from stkpi_tools.localstack.provision import patched_environ
from stkpi_tools.localstack.settings_env import local_topology
from stkpi_tools.sim.reporting import report_id
from stkpi_tools.sim.reports import REPORTS
from stkpi_tools.tenant.add import add_tenant

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory, bq_emulator, gcs_emulator, pubsub_emulator) -> Iterator[TenantStack]:
    emulators = {"gcs": gcs_emulator.service, "bigquery": bq_emulator.service,
                 "pubsub": pubsub_emulator.service}  # fmt: skip
    root = tmp_path_factory.mktemp("tenants-stack")
    # behind the IAM gate: the operator's `stkpi tenant add` makes the tenant's tables in
    # the datasets terraform/ makes and grants (docs/TENANTS.md)
    prefix = f"lt{uuid.uuid4().hex[:4]}"
    with multi_tenant_stack(root, emulators, prefix, functions=False) as s:
        yield s


def _secrets_dir(stack: TenantStack) -> Path:
    return Path(stack.info.env()["ST_SECRETS_DIR"])


def test_the_stack_serves_its_tenants_and_holds_their_secrets(stack: TenantStack) -> None:
    assert stack.added == [t.tenant_id for t in ADDED_TENANTS]
    assert [t["time_zone"] for t in stack.tenants[1:]] == [t.time_zone for t in ADDED_TENANTS]
    # terraform/ evaluated with the tenants: each one's secrets, readable by the functions
    # that call ServiceTitan only
    tenants = stack.info.tf_variables["tenants"]
    assert sorted(tenants) == stack.added
    topology = local_topology(stack.info.project, stack.info.tf_variables)
    grants = json.dumps([g.__dict__ for g in topology.grants], default=str)
    for tenant_id in stack.added:
        assert f"st-t{tenant_id}-client-secret" in grants
    # each secret holds the value the simulator issued that tenant, readable by us only
    for tenant in stack.tenants[1:]:
        names = secret_names(stack.info.project, tenant["tenant_id"], stack.name_prefix)
        for env, field in (("ST_CLIENT_ID", "client_id"), ("ST_CLIENT_SECRET", "client_secret"),
                           ("ST_APP_KEY", "app_key")):  # fmt: skip
            path = _secrets_dir(stack) / names[env].rsplit("/", 1)[-1]
            assert path.read_text() == tenant[field] and path.stat().st_mode & 0o077 == 0
    # no credential of an added tenant in stack.json
    saved = (Path(stack.info.root) / "stack.json").read_text()
    assert not any(t["client_secret"] in saved for t in stack.tenants[1:])


def test_the_added_tenants_have_the_demo_s_maps_under_their_own_report_ids(
    stack: TenantStack,
) -> None:
    env = stack.info.admin_env()
    settings = load_settings(env)
    with patched_environ(env):
        client = bigquery_client(settings)
    try:
        for tenant_id in stack.added:
            assert read_bu_map(client, settings, tenant_id), tenant_id
            ids = {r.report_id for r in read_report_map(client, settings, tenant_id)}
            # the reports the simulator lists for that tenant (ids differ per tenant)
            assert ids and ids <= {report_id(tenant_id, r.key) for r in REPORTS}, tenant_id
    finally:
        client.close()


def test_tenant_add_passes_the_doctor_with_each_tenant_s_own_secrets(stack: TenantStack) -> None:
    nevada, small = stack.added
    # another tenant's credentials in nevada's secrets: its token opens the other tenant
    # only, so the doctor fails and nothing is registered
    names = secret_names(stack.info.project, nevada, stack.name_prefix)
    other = secret_names(stack.info.project, small, stack.name_prefix)
    files = {env: _secrets_dir(stack) / n.rsplit("/", 1)[-1] for env, n in names.items()}
    right = {env: path.read_text() for env, path in files.items()}
    for env, path in files.items():
        path.write_text((_secrets_dir(stack) / other[env].rsplit("/", 1)[-1]).read_text())
    try:
        got = stack.add(nevada)
        out = " ".join((got.stdout + got.stderr).split())
        assert got.returncode == 2 and f"tenant {nevada} not added" in out, out
        assert "HTTP 403" in out and "Traceback" not in out
    finally:
        for env, path in files.items():
            path.write_text(right[env])
    stack.add_all()
    got = stack.stkpi("tenant", "list", "--json")
    assert got.returncode == 0, got.stderr
    rows = {r["tenant_id"]: r for r in json.loads(got.stdout)}
    assert sorted(rows) == ["1000", *stack.added]
    assert rows[nevada]["time_zone"] == "America/Los_Angeles"
    assert rows[nevada]["display_name"] == ADDED_TENANTS[0].display_name


def test_an_in_process_pipeline_serves_added_tenants_with_their_secrets(crash_file: Path) -> None:
    """``in_process_pipeline(tenants=...)``: the secrets are where ``stkpi tenant add``
    and the runtime read them, so the tenant passes the doctor with its own."""
    nevada, prefix = ADDED_TENANTS[0], f"ip{uuid.uuid4().hex[:4]}"
    with in_process_pipeline(prefix, seed=42, crash_file=crash_file, env={},
                             tenants=(nevada,)) as pipe:  # fmt: skip
        settings = pipe.ctx.settings
        reader = SecretReader(directory_accessor(Path(os.environ[SECRETS_DIR_ENV])))
        names = secret_names(settings.gcp_project, nevada.tenant_id, f"{prefix}-")
        tenant = Tenant(nevada.tenant_id, "Silver State", names, nevada.time_zone)
        at = dt.datetime.now(dt.UTC)  # the harness runs above 60/s on purpose: a warning
        added = add_tenant(pipe.ctx.bigquery, settings, tenant, reader, at=at, allow_warnings=True)
        assert added.tenant == tenant and added.report.status != "fail"
        assert read_bu_map(pipe.ctx.bigquery, settings, nevada.tenant_id)
    assert SECRETS_DIR_ENV not in os.environ
