"""Read ``terraform/`` as data: a strict evaluator of Terraform's HCL expressions (``hcl``)
and the deployment's shape built from the real resources (``topology``).

``terraform/`` is the single source of truth for topics, subscriptions, dead letters,
functions, capacity and grants; the local stack and the CLI read it through this package
instead of keeping a second list of names in Python.
"""

from stkpi_tools.terraform.hcl import (
    CycleError,
    HclError,
    Instance,
    MissingVariable,
    Module,
    NotSupported,
    ParseError,
    Unknown,
)

__all__ = [
    "CycleError",
    "HclError",
    "Instance",
    "MissingVariable",
    "Module",
    "NotSupported",
    "ParseError",
    "Unknown",
]
