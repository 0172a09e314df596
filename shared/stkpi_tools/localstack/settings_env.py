"""The deployment the local stack stands up: terraform/ evaluated with local variables.

``terraform/local.tfvars.json`` is to the local stack what ``terraform.tfvars`` is to a
cloud deploy: the project id, the bucket name, the operator account and a faster retry
backoff (the policy's shape is terraform's; only its seconds are shorter, so a test of
five failed deliveries takes seconds, not minutes). Everything else, names, policies,
capacity, environment, grants, is evaluated from terraform/ (``stkpi_tools.terraform``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from stkpi.config import Settings, load_settings
from stkpi_tools.terraform.topology import Topology, load_topology, terraform_dir

# The simulator's fake tenant and credentials (SERVICETITAN.md); a real tenant's come from
# the environment instead.
LOCAL_CREDENTIALS = {
    "ST_TENANT_ID": "1000",
    "ST_CLIENT_ID": "local-client",
    "ST_CLIENT_SECRET": "local-secret",
    "ST_APP_KEY": "local-app-key",
}
CREDENTIALS = tuple(LOCAL_CREDENTIALS)
# Set by terraform for the cloud only: Cloud Run's execution id in logs.
_CLOUD_ONLY = ("LOG_EXECUTION_ID",)
# What a user may set (environment or .env) over the local defaults, and the terraform
# variable each one is: the local deployment is then the one ``terraform apply`` would
# make with those values (a rate per fetch instance changes fetch_window's instances too).
USER_VARIABLES = {
    "REPORT_TIMEZONE": "report_timezone",
    "ST_PAGE_SIZE": "st_page_size",
    "ST_RATE_LIMIT_PER_SECOND": "fetch_rate_per_instance",
    "ST_API_BASE_URL": "st_api_base_url",
    "ST_AUTH_URL": "st_auth_url",
}


def user_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings a user gave (``USER_VARIABLES`` and the credentials), and nothing else."""
    return {k: environ[k] for k in (*USER_VARIABLES, *CREDENTIALS) if environ.get(k)}


def user_variables(settings: Mapping[str, str], *, own_server: bool) -> dict[str, Any]:
    """Terraform variables from a user's settings. With the simulator (``own_server``
    false) its URLs stand; the time zone, page size and rate apply either way."""
    out: dict[str, Any] = {}
    for key, variable in USER_VARIABLES.items():
        if key in settings and (own_server or not key.endswith("_URL")):
            value: Any = settings[key]
            if key == "ST_PAGE_SIZE":
                value = int(value)
            elif key == "ST_RATE_LIMIT_PER_SECOND":
                value = float(value)
            out[variable] = value
    return out


def local_variables(project: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """terraform/local.tfvars.json, the project, then ``variables`` (later wins)."""
    doc = json.loads((terraform_dir() / "local.tfvars.json").read_text())
    return {**doc, "project_id": project, **(variables or {})}


@cache
def _topology(directory: str, frozen: str) -> Topology:
    return load_topology(Path(directory), variables=json.loads(frozen))


def local_topology(project: str, variables: Mapping[str, Any] | None = None) -> Topology:
    """The deployment's shape for the local stack (cached per directory and variables)."""
    frozen = json.dumps(local_variables(project, variables), sort_keys=True)
    return _topology(str(terraform_dir()), frozen)


def common_env(topology: Topology) -> dict[str, str]:
    """The environment every function shares (what a CLI run needs of it too)."""
    envs = [fn.env for fn in topology.functions.values()]
    shared = {k: v for k, v in envs[0].items() if all(e.get(k) == v for e in envs[1:])}
    return {k: v for k, v in shared.items() if k not in _CLOUD_ONLY}


def local_settings_env(
    project: str,
    *,
    st_base_url: str = "http://127.0.0.1:9",
    extra: Mapping[str, str] | None = None,
    variables: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Settings variables of the local deployment: terraform's common environment, the
    ServiceTitan server at ``st_base_url`` with the simulator's credentials, then
    ``extra``."""
    env = common_env(local_topology(project, variables))
    env.update(
        {
            "ST_API_BASE_URL": st_base_url,
            "ST_AUTH_URL": st_base_url,
            **LOCAL_CREDENTIALS,
            "GOOGLE_CLOUD_PROJECT": project,
        }
    )
    env.update(extra or {})
    return env


def settings_from(env: Mapping[str, str]) -> Settings:
    return load_settings(env)
