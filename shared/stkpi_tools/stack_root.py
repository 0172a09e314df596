"""Where this checkout's local stack lives: ``.stkpi/stack``, or ``$STKPI_STACK_ROOT``.

``stkpi local up`` and ``stkpi demo --keep`` start the stack there, and every CLI command
finds a running stack's endpoints there; a module of its own (not ``stkpi_tools.cli``,
not ``stkpi_tools.localstack``) so the demo can name it without importing the CLI and the
CLI without loading the local stack's dependencies.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_STACK_ROOT = Path(".stkpi") / "stack"


def stack_root() -> Path:
    return Path(os.environ.get("STKPI_STACK_ROOT", DEFAULT_STACK_ROOT))
