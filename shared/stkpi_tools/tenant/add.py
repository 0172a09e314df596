"""``stkpi tenant add`` as a function: the doctor's checks with the tenant's own credentials,
then the tenant's datasets and tables (``<prefix>_t<id>_*``, the DDL of the deployment's
own) and the registry (``stkpi.tenants``); nothing is written unless every check passed.

The credentials are read the way the functions will read them: from the tenant's Secret
Manager secrets by name (``stkpi.secrets``), so a secret without a version, a wrong value
or a missing API scope is found now, by the operator, and not by the first daily run.
There is no Secret Manager emulator: a local stack or a test sets ``ST_SECRETS_DIR``, a
directory that stands in for it (one file per secret id holding its latest value).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from stkpi.config import Settings, with_values
from stkpi.errors import ConfigError
from stkpi.secrets import SECRETS_DIR_ENV, MissingSecretError, SecretReader, directory_accessor
from stkpi.tenants import Tenant, default_tenant_id, find_tenant, settings_for, write_tenant
from stkpi.warehouse import ensure_tables
from stkpi_tools.doctor.report import Report
from stkpi_tools.doctor.run import run_doctor

__all__ = ["SECRETS_DIR_ENV", "TenantRefused", "add_tenant", "directory_accessor"]
# A doctor answers in seconds: requests capped as `stkpi doctor` caps them.
DOCTOR_TIMEOUT_SECONDS = 20.0


class TenantRefused(ConfigError):
    """The tenant was not added; the message says why and what to fix. ``report`` holds
    the doctor's checks when they were run."""

    def __init__(self, message: str, report: Report | None = None) -> None:
        super().__init__(message)
        self.report = report


def tenant_settings(base: Settings, tenant: Tenant, reader: SecretReader) -> Settings:
    """``base`` (the deployment's URLs, page size, rate) as ``tenant``: its id and the
    values of its own secrets, never the default tenant's credentials."""
    update: dict[str, object] = {"st_tenant_id": tenant.tenant_id, "st_secrets": {}}
    for env, name in tenant.secrets.items():
        update[env.lower()] = SecretStr(reader.read(name))
    update["st_request_timeout_seconds"] = min(
        base.st_request_timeout_seconds, DOCTOR_TIMEOUT_SECONDS
    )
    return with_values(base, update)


@dataclass(frozen=True)
class Added:
    tenant: Tenant
    report: Report
    replaced: Tenant | None  # the version it replaced, if the tenant was registered


def add_tenant(
    client,
    settings: Settings,
    tenant: Tenant,
    reader: SecretReader,
    *,
    at: dt.datetime,
    allow_warnings: bool = False,
    doctor: Callable[[Settings], Report] = run_doctor,
    added_by: str | None = None,
) -> Added:
    """Check ``tenant`` (its fields, its secrets, then every doctor check with them) and
    register it. Raises TenantRefused, having written nothing, when any of that fails."""
    tenant.check()
    if tenant.tenant_id == default_tenant_id(settings):
        raise TenantRefused(
            f"tenant {tenant.tenant_id} is this deployment's default tenant (ST_TENANT_ID): "
            "it is served from the deployment's own settings and datasets already"
        )
    try:
        st = tenant_settings(settings, tenant, reader)
    except MissingSecretError as exc:
        raise TenantRefused(f"tenant {tenant.tenant_id} not added: {exc}") from None
    except ConfigError as exc:
        raise TenantRefused(
            f"tenant {tenant.tenant_id} not added: a secret's value is not usable: {exc}"
        ) from None
    report = doctor(st)
    bad = [
        c
        for c in report.checks
        if c.status == "fail" or (c.status == "warn" and not allow_warnings)
    ]
    if report.status == "fail" or bad:
        lines = [f"  - {c.name}: {c.detail}" + (f" (fix: {c.fix})" if c.fix else "") for c in bad]
        if not report.checks:
            lines = ["  - no check could run"]
        more = "" if report.status == "fail" else " (or pass --allow-warnings)"
        secrets = ", ".join(f"{env}: {name}" for env, name in sorted(tenant.secrets.items()))
        raise TenantRefused(
            f"tenant {tenant.tenant_id} not added: the doctor's checks with its own "
            f"credentials did not pass{more}:\n" + "\n".join(lines) + "\n"
            f"  its credentials are these secrets ({secrets}); add a version with "
            "`gcloud secrets versions add SECRET --data-file=-` and run it again",
            report,
        )
    replaced = find_tenant(client, settings, tenant.tenant_id)
    # Its datasets and tables before the registry row: a function that sees the tenant
    # finds them (the same DDL as the deployment's own, on the tenant's datasets).
    ensure_tables(client, settings_for(settings, tenant))
    write_tenant(client, settings, tenant, at=at, added_by=added_by)
    return Added(tenant, report, replaced)
