"""Where CLI commands find their environment: the process environment, completed by the
local stack's recorded endpoints (``.stkpi/stack/stack.json``) when one is running."""

from __future__ import annotations

import os
import re
from typing import Annotated

import typer

from stkpi.config import TENANT_ID_PATTERN, load_settings
from stkpi.context import PipelineContext
from stkpi_tools.stack_root import stack_root


def apply_stack_env() -> bool:
    """Export the running local stack's variables (without overriding explicit ones)."""
    try:
        from stkpi_tools.localstack import StackInfo
    except ImportError:
        return False
    root = stack_root()
    if not (root / "stack.json").exists():
        return False
    for key, value in StackInfo.load(root).env().items():
        os.environ.setdefault(key, value)
    return True


def pipeline_context(tenant: str | None = None) -> PipelineContext:
    """The deployment's context, or with ``tenant`` (``--tenant``) that tenant's: its
    datasets, landing root and clock, and a bus that stamps it on every plan published
    (stkpi.tenant_contexts; an id the registry does not hold is refused with the command
    that adds it)."""
    tenant = checked_tenant(tenant)  # before any setting is read: the user's mistake first
    apply_stack_env()
    ctx = PipelineContext(load_settings())
    return ctx if tenant is None else ctx.for_tenant(tenant)


def checked_tenant(tenant: str | None) -> str | None:
    """``--tenant``'s value, refused with one line unless it is a tenant id."""
    if tenant is None:
        return None
    if not re.fullmatch(TENANT_ID_PATTERN, tenant.strip()):
        raise typer.BadParameter(
            f"{tenant!r} is not a tenant id (ServiceTitan's number; `stkpi tenant list`)",
            param_hint="--tenant",
        )
    return tenant.strip()


# The option of every command that starts or inspects a tenant's runs.
TenantOption = Annotated[
    str | None,
    typer.Option(
        "--tenant",
        help="the tenant's ServiceTitan id (`stkpi tenant list`); default: the deployment's "
        "own tenant",
    ),
]
