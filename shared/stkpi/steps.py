"""The four pipeline steps by function name: message model and library call.

The function entry points and the in-process pump both dispatch through this table, so
a step is wired the same way wherever it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stkpi.fetch import fetch_window
from stkpi.load import load_window
from stkpi.messages import LoadMessage, PlanMessage, RebuildMessage, WindowMessage, _Message
from stkpi.plan import plan_and_publish
from stkpi.rebuild import rebuild_run

Step = tuple[type[_Message], Callable[[Any, Any], Any]]

STEPS: dict[str, Step] = {
    "plan_windows": (PlanMessage, plan_and_publish),
    "fetch_window": (WindowMessage, fetch_window),
    "load_batch": (LoadMessage, load_window),
    "rebuild_dims": (RebuildMessage, rebuild_run),
}
