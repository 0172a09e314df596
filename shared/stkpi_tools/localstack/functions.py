"""The four function servers as the local stack runs them: which functions, where their
sources are, how many worker processes and threads each gets (a worker per Cloud Run
instance), and their environment as terraform/ declares it, pointed at the local services.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from stkpi import sqlfiles
from stkpi.secrets import SECRETS_DIR_ENV
from stkpi_tools.terraform.topology import Function

FUNCTIONS = ("plan_windows", "fetch_window", "load_batch", "rebuild_dims")


def functions_dir() -> Path:
    """The repo's ``functions/`` folder (a sibling of ``sql/``)."""
    return sqlfiles.sql_dir().parent / "functions"


# Worker processes one local function server may run: a Cloud Run instance each, up to
# this many (a laptop need not fork 10 load_batch workers to prove what 6 prove).
LOCAL_MAX_INSTANCES = 6


def function_instances(max_instances: int, capacity: int, threads: int | None) -> tuple[int, int]:
    """(worker processes, threads per worker) of a local function server.

    Each gunicorn worker is one instance, as on Cloud Run: its own memory (what the
    benchmark's peak per function measures), its own interpreter lock and its own token
    bucket. The threads cover the function's capacity across the workers, plus headroom;
    the front door still refuses beyond ``max_instance_count x concurrency``. A caller
    that fixes the threads gets one worker."""
    if threads:
        return 1, threads
    workers = max(1, min(max_instances, LOCAL_MAX_INSTANCES))
    return workers, math.ceil(capacity / workers) + 2


def function_env(
    fn: Function,
    env: Mapping[str, str],
    secrets: Mapping[str, str],
    overrides: Mapping[str, str],
) -> dict[str, str]:
    """The function's environment as terraform declares it, pointed at the local services:
    the ServiceTitan server the stack was given, the secrets it is granted (the
    simulator's credentials, or the user's) as values, the simulator's clock as the tenant's
    (stkpi.clock; absent for a real tenant, as in the cloud), the added tenants' secrets
    (``ST_SECRETS_DIR``) to the functions that read secrets, and the caller's overrides.

    There is no Secret Manager emulator: where terraform names a function's secrets
    (``ST_SECRETS``, read at call time by ``stkpi.secrets``), the stack hands it their
    values instead, which ``stkpi.secrets`` takes over any reference."""
    out = dict(fn.env)
    for name in ("ST_API_BASE_URL", "ST_AUTH_URL", "GOOGLE_CLOUD_PROJECT"):
        out[name] = env[name]
    if env.get("TENANT_CLOCK_URL"):
        out["TENANT_CLOCK_URL"] = env["TENANT_CLOCK_URL"]
    if env.get(SECRETS_DIR_ENV) and "ST_SECRETS" in fn.env:
        # the added tenants' secrets, for the functions terraform lets read secrets only
        out[SECRETS_DIR_ENV] = env[SECRETS_DIR_ENV]
    out.pop("ST_SECRETS", None)
    for name in fn.secret_env:
        out[name] = secrets[name]
    out.update(overrides)
    return out
