"""The table of Terraform built-in functions a call can name, and the valid ones this
evaluator refuses on purpose (their value is known only at apply, or is out of scope), so
that a refusal reads as :class:`NotSupported` rather than as an unknown function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stkpi_tools.terraform.hcl.fn_collections import COLLECTION_FUNCTIONS
from stkpi_tools.terraform.hcl.fn_files import FILE_FUNCTIONS
from stkpi_tools.terraform.hcl.fn_strings import STRING_FUNCTIONS

FUNCTIONS: dict[str, Callable[..., Any]] = {
    **COLLECTION_FUNCTIONS,
    **STRING_FUNCTIONS,
    **FILE_FUNCTIONS,
}


# Valid Terraform, deliberately not evaluated (values known only at apply, or side effects).
NOT_SUPPORTED_FUNCTIONS = {
    "timestamp",
    "plantimestamp",
    "uuid",
    "uuidv5",
    "bcrypt",
    "filebase64",
    "filebase64sha256",
    "filesha256",
    "filemd5",
    "yamlencode",
    "yamldecode",
    "csvdecode",
    "cidrsubnet",
    "cidrhost",
    "cidrnetmask",
    "cidrsubnets",
    "rsadecrypt",
    "textencodebase64",
    "textdecodebase64",
    "transpose",
    "matchkeys",
    "chunklist",
    "formatlist",
    "formatdate",
    "timeadd",
    "timecmp",
    "type",
    "issensitive",
    "ephemeralasnull",
    "urlencode",
    "pathexpand",
    "strrev",
    "indent",
    "setintersection",
    "setsubtract",
    "setunion",
    "keys_of",
}
