"""``--tenant``: which of the deployment's tenants a KPI command reads (docs/TENANTS.md).

The default is the deployment's own tenant, in its own datasets, exactly as before tenants
were data; an added tenant's id gives its settings (``stkpi.tenants.settings_for``: its
datasets, time zone and weeks). Light to import: every CLI module loads at start.
"""

from __future__ import annotations

from typing import Any

import typer

from stkpi.config import Settings
from stkpi.errors import ConfigError

TENANT_OPTION = typer.Option(
    None,
    "--tenant",
    help="an added tenant's id (`stkpi tenant list`); default: the deployment's own tenant",
)


def tenant_settings(client: Any, settings: Settings, tenant_id: str | None) -> Settings:
    """The settings of the tenant ``--tenant`` names: the deployment's own for none (or its
    default tenant's id), an added tenant's for a registered one; any other id is a
    ConfigError that says where the tenants are listed."""
    from stkpi.tenants import default_tenant_id, find_tenant, settings_for

    wanted = (tenant_id or "").strip()
    if not wanted or wanted == default_tenant_id(settings):
        return settings
    tenant = find_tenant(client, settings, wanted)
    if tenant is None:
        raise ConfigError(
            f"--tenant {wanted}: not a tenant of this deployment (not its default tenant, "
            f"not in {settings.dataset('ops')}.tenants); `stkpi tenant list` lists them"
        )
    return settings_for(settings, tenant)
