"""The deployment the local stack stands up: terraform/ evaluated with local variables.

``terraform/local.tfvars.json`` is to the local stack what ``terraform.tfvars`` is to a
cloud deploy: the project id, the bucket name, the operator account and a faster retry
backoff (the policy's shape is terraform's; only its seconds are shorter, so a test of
five failed deliveries takes seconds, not minutes). Everything else, names, policies,
capacity, environment, grants, is evaluated from terraform/ (``stkpi.terraform``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from stkpi.config import Settings, load_settings
from stkpi.terraform.topology import Topology, load_topology, terraform_dir

# The simulator's fake tenant and credentials (SERVICETITAN.md); a real tenant's come from
# the environment instead.
LOCAL_CREDENTIALS = {
    "ST_TENANT_ID": "1000",
    "ST_CLIENT_ID": "local-client",
    "ST_CLIENT_SECRET": "local-secret",
    "ST_APP_KEY": "local-app-key",
}
# Set by terraform for the cloud only: Cloud Run's execution id in logs.
_CLOUD_ONLY = ("LOG_EXECUTION_ID",)


def local_variables(project: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """terraform/local.tfvars.json, the project, then ``variables`` (later wins)."""
    doc = json.loads((terraform_dir() / "local.tfvars.json").read_text())
    return {**doc, "project_id": project, **(variables or {})}


@cache
def _topology(frozen: str) -> Topology:
    return load_topology(variables=json.loads(frozen))


def local_topology(project: str, variables: Mapping[str, Any] | None = None) -> Topology:
    """The deployment's shape for the local stack (cached per set of variables)."""
    return _topology(json.dumps(local_variables(project, variables), sort_keys=True))


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
