"""The deployment's tenants, as data: who they are, where their credentials are, their clock.

One deployment serves its default tenant (the one its settings name: ``ST_TENANT_ID`` or
its secret, in its own datasets, exactly as before) and any number of tenants added with
``stkpi tenant add``, kept in ``${ops}.tenants`` (DDL sql/ops/tenants.sql). The table is
append-only, as every table with streaming inserts must be (DML is refused on rows still
in the streaming buffer), so a change is a new version and the latest version of a tenant
is the tenant. Each tenant's credentials are its own Secret Manager secrets (terraform's
``tenants`` variable creates them and lets only the functions that call ServiceTitan read
them); a row holds their names, never a value. Why a dataset per tenant and what is left
to build: docs/TENANTS.md.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from google.api_core.exceptions import NotFound
from google.cloud import bigquery

from stkpi import sqlfiles
from stkpi.config import TENANT_ID_PATTERN, WEEKDAYS, Settings, with_values

TABLE = "tenants"
# credential (environment variable) -> the suffix of its secret's id (terraform/secrets.tf)
SECRET_SUFFIXES = {
    "ST_CLIENT_ID": "client-id",
    "ST_CLIENT_SECRET": "client-secret",
    "ST_APP_KEY": "app-key",
}
_COLUMNS = {
    "ST_CLIENT_ID": "client_id_secret",
    "ST_CLIENT_SECRET": "client_secret_secret",
    "ST_APP_KEY": "app_key_secret",
}
_TENANT_ID = re.compile(TENANT_ID_PATTERN)
_SECRET = re.compile(r"projects/[a-z0-9-]+/secrets/[A-Za-z0-9_-]{1,255}")


class TenantError(ValueError):
    """A tenant that cannot be registered as given; the message says what to change."""


@dataclass(frozen=True)
class Tenant:
    """One tenant of the deployment: ``secrets`` maps each credential's environment
    variable (``ST_CLIENT_ID``, ``ST_CLIENT_SECRET``, ``ST_APP_KEY``) to its secret's
    resource name (``projects/P/secrets/S``)."""

    tenant_id: str
    display_name: str
    secrets: dict[str, str]
    time_zone: str
    weeks_start: str = "monday"

    def check(self) -> Tenant:
        """``self`` if every field is one the pipeline can use; else TenantError naming
        each problem."""
        problems = []
        if not _TENANT_ID.fullmatch(self.tenant_id):
            problems.append(
                f"tenant id {self.tenant_id!r}: must be ServiceTitan's numeric tenant id"
            )
        if not self.display_name.strip():
            problems.append("display name: is empty")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"time zone {self.time_zone!r}: not an IANA time zone")
        if self.weeks_start not in WEEKDAYS:
            problems.append(
                f"weeks start {self.weeks_start!r}: must be one of {', '.join(WEEKDAYS)}"
            )
        if set(self.secrets) != set(SECRET_SUFFIXES):
            problems.append(f"secrets: needs exactly {', '.join(SECRET_SUFFIXES)}")
        for env, name in sorted(self.secrets.items()):
            if not _SECRET.fullmatch(name):
                problems.append(f"{env} secret {name!r}: must be projects/PROJECT/secrets/ID")
        if problems:
            raise TenantError("tenant not valid:\n" + "\n".join(f"  - {p}" for p in problems))
        return self


def secret_names(project: str, tenant_id: str, name_prefix: str = "") -> dict[str, str]:
    """The secrets terraform's ``tenants`` entry creates for ``tenant_id``
    (terraform/secrets.tf: ``<name_prefix>st-t<id>-<credential>``)."""
    return {
        env: f"projects/{project}/secrets/{name_prefix}st-t{tenant_id}-{suffix}"
        for env, suffix in SECRET_SUFFIXES.items()
    }


def default_tenant_id(settings: Settings) -> str | None:
    """The deployment's own tenant when its settings give its id as a value (a deployed
    function may only hold a reference to it, read at call time)."""
    return str(settings.st_tenant_id) if settings.st_tenant_id else None


def read_tenants(client: bigquery.Client, settings: Settings) -> list[Tenant]:
    """Every registered tenant, its latest version, by tenant id."""
    sql = sqlfiles.render(
        "ops/tenants_latest.sql", settings, ops=settings.deployment_dataset("ops")
    )
    try:
        rows = list(client.query_and_wait(sql))
    except NotFound:  # a deployment from before the registry: no tenant added yet
        return []
    return [_tenant(r) for r in rows]


def find_tenant(client: bigquery.Client, settings: Settings, tenant_id: str) -> Tenant | None:
    """The latest version of one tenant, or None when it was never added.

    Read by listing the table's rows (``tabledata.list``), not by a query: every function
    resolves its messages' tenants here (stkpi.tenant_contexts), and fetch_window may read
    its ops tables but runs no BigQuery job (terraform/iam.tf grants it no jobUser). The
    registry holds a few rows per tenant ever added."""
    table = f"{settings.gcp_project}.{settings.deployment_dataset('ops')}.{TABLE}"
    try:
        rows = [dict(r.items()) for r in client.list_rows(table) if r["tenant_id"] == tenant_id]
    except NotFound:  # a deployment from before the registry: no tenant added yet
        return None
    if not rows:
        return None
    return _tenant(max(rows, key=lambda r: r["version"]))


def _tenant(row: Mapping[str, Any]) -> Tenant:
    return Tenant(
        tenant_id=row["tenant_id"],
        display_name=row["display_name"],
        secrets={env: row[col] for env, col in _COLUMNS.items()},
        time_zone=row["time_zone"],
        weeks_start=row["weeks_start"],
    )


def write_tenant(
    client: bigquery.Client,
    settings: Settings,
    tenant: Tenant,
    *,
    at: dt.datetime,
    added_by: str | None = None,
) -> None:
    """Append ``tenant`` as its latest version (checked first: nothing is written for a
    tenant that is not valid)."""
    tenant.check()
    row = {
        "tenant_id": tenant.tenant_id,
        "version": at.isoformat(),
        "display_name": tenant.display_name.strip(),
        **{col: tenant.secrets[env] for env, col in _COLUMNS.items()},
        "time_zone": tenant.time_zone,
        "weeks_start": tenant.weeks_start,
        "added_by": added_by,
    }
    table = f"{settings.gcp_project}.{settings.deployment_dataset('ops')}.{TABLE}"
    errors = client.insert_rows_json(table, [row])
    if errors:
        raise RuntimeError(f"could not write {table}: {errors[:3]}")


def dataset_prefix(settings: Settings, tenant_id: str) -> str:
    """The dataset prefix of an added tenant: the deployment's with ``_t<id>`` appended
    (docs/TENANTS.md: a dataset set per tenant)."""
    return f"{settings.bq_dataset_prefix}_t{tenant_id}"


def landing_root(tenant_id: str) -> str:
    """Where an added tenant's objects live in the landing bucket: every page, marker,
    claim, lease and hand-off of its runs under ``t<id>/`` (stkpi.landing), so its run ids
    can never meet another tenant's."""
    return f"t{tenant_id}/"


def settings_for(settings: Settings, tenant: Tenant) -> Settings:
    """The deployment's settings as one added tenant sees them: its datasets, its time zone
    and week start, its tenant id, its landing root, and its own credentials, read from its
    secrets when a call needs them (``stkpi.secrets``), never the deployment's. Every step that reads
    ``settings.dataset(layer)`` then reaches the tenant's tables with no change of its own."""
    tenant.check()
    return with_values(
        settings,
        {
            "bq_dataset_prefix": dataset_prefix(settings, tenant.tenant_id),
            "landing_root": landing_root(tenant.tenant_id),
            "deployment_dataset_prefix": settings.deployment_dataset_prefix
            or settings.bq_dataset_prefix,
            "report_timezone": tenant.time_zone,
            "weeks_start": tenant.weeks_start,
            "st_tenant_id": tenant.tenant_id,
            "st_client_id": None,
            "st_client_secret": None,
            "st_app_key": None,
            "st_secrets": dict(tenant.secrets),
        },
    )
