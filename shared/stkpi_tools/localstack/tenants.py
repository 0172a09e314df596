"""The local stack's added tenants: the simulator serves them, terraform/ knows them, and their
credentials wait where the pipeline reads them locally.

One list says which tenants the stack serves besides its default one (a tenants file:
``{"tenants": {"<id>": {"display_name", "time_zone", "seed", "scale"}}}``, keyed as
terraform's ``tenants`` variable; ``terraform/local.tenants.json`` is the demo's). From it:

- the simulator serves each (``stkpi sim serve --tenants``: its own data, time zone and
  fake credentials);
- terraform/ is evaluated with ``tenants`` = each id's ``display_name`` and ``time_zone``
  (its secrets, the grants that let only the functions calling ServiceTitan read them, its
  Scheduler jobs in its zone);
- each tenant's credentials, as the simulator issued them, are written as its secrets
  (``<name_prefix>st-t<id>-client-id|client-secret|app-key``, ``stkpi.tenants.
  secret_names``) into ``<root>/secrets``, the Secret Manager stand-in ``ST_SECRETS_DIR``
  names (there is no emulator), so ``stkpi tenant add --tenant-id <id>`` passes its doctor.

Registering them stays the operator's step (``stkpi tenant add``), as in the cloud.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from stkpi.tenants import secret_names
from stkpi_tools.sim.config import TenantSpec
from stkpi_tools.terraform.topology import terraform_dir

SECRETS_DIR = "secrets"
SIM_TENANTS_FILE = "sim-tenants.json"
# credential (environment variable) -> the field of the simulator's tenant description
_SIM_FIELDS = {"ST_CLIENT_ID": "client_id", "ST_CLIENT_SECRET": "client_secret",
               "ST_APP_KEY": "app_key"}  # fmt: skip


def demo_tenants_file() -> Path:
    """The demo's added tenants (``terraform/local.tenants.json``)."""
    return terraform_dir() / "local.tenants.json"


def terraform_tenants(specs: Iterable[TenantSpec]) -> dict[str, dict[str, str]]:
    """terraform's ``tenants`` variable for ``specs``: id -> its display name and time zone
    (its Scheduler jobs' zone, terraform/scheduler.tf)."""
    return {
        s.tenant_id: {
            "display_name": s.display_name or f"Simulated tenant {s.tenant_id}",
            "time_zone": s.time_zone,
        }
        for s in specs
    }


def write_sim_tenants(root: Path, specs: Sequence[TenantSpec]) -> Path:
    """The file the stack's simulator reads its added tenants from (``--tenants``)."""
    doc = {s.tenant_id: {k: v for k, v in s.__dict__.items() if k != "tenant_id" and v != ""}
           for s in specs}  # fmt: skip
    path = Path(root) / SIM_TENANTS_FILE
    path.write_text(json.dumps({"tenants": doc}, indent=1))
    return path


def write_tenant_secrets(
    directory: Path, project: str, name_prefix: str, tenants: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, str]]:
    """Each tenant's credentials (the simulator's descriptions, ``/_sim/tenants``) as its
    secrets, one file per secret id holding its value, readable by this user only; returns
    tenant id -> credential -> secret name."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    written = {}
    for tenant in tenants:
        names = secret_names(project, str(tenant["tenant_id"]), name_prefix)
        for env, name in names.items():
            path = directory / name.rsplit("/", 1)[-1]
            path.write_text(str(tenant[_SIM_FIELDS[env]]))
            path.chmod(0o600)
        written[str(tenant["tenant_id"])] = names
    return written


def add_command(spec: Mapping[str, Any], name_prefix: str = "") -> str:
    """The ``stkpi tenant add`` that registers a simulated tenant of the stack."""
    name = str(spec.get("display_name") or f"Simulated tenant {spec['tenant_id']}")
    prefix = f" --name-prefix {name_prefix}" if name_prefix else ""
    return (
        f"stkpi tenant add --tenant-id {spec['tenant_id']} --name {shlex.quote(name)} "
        f"--time-zone {spec['time_zone']}{prefix}"
    )
