"""What the topology and the grants both read back from terraform/: a resource's name from
its path (``projects/p/topics/t``, or a bare ``t``), and :class:`TopologyError`, which both
raise when terraform/ evaluates to a form they do not model.
"""

from __future__ import annotations

import re
from typing import Any

from stkpi_tools.terraform.hcl import HclError, to_string

__all__ = ["TopologyError", "path_name"]


class TopologyError(HclError):
    """terraform/ evaluates, but not to a shape the topology (or its grants) can describe."""


def path_name(value: Any, collection: str) -> tuple[str | None, str]:
    """``projects/p/<collection>/n`` (or a bare ``n``) -> (project or None, n)."""
    text = to_string(value)
    m = re.fullmatch(rf"projects/([^/]+)/(?:locations/[^/]+/)?{collection}/([^/]+)", text)
    if m:
        return m.group(1), m.group(2)
    if "/" in text:
        raise TopologyError(f"{text!r} is neither a {collection} name nor its resource path")
    return None, text
