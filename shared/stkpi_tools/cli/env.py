"""Where CLI commands find their environment: the process environment, completed by the
local stack's recorded endpoints (``.stkpi/stack/stack.json``) when one is running."""

from __future__ import annotations

import os

from stkpi.config import load_settings
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


def pipeline_context() -> PipelineContext:
    apply_stack_env()
    return PipelineContext(load_settings())
