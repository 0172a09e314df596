"""The session's whole local stack (simulator + the pipeline's four function servers)."""

from __future__ import annotations

import pytest

from stkpi.config import load_settings
from stkpi_tools.localstack import StackInfo
from stkpi_tools.localstack.process import pgid_alive, tcp_open

pytestmark = pytest.mark.integration


def test_local_stack_runs_every_service(local_stack: StackInfo) -> None:
    names = {"simulator", "fn-plan_windows", "fn-fetch_window", "fn-load_batch", "fn-rebuild_dims"}
    assert names <= set(local_stack.owned)
    for name, pid in local_stack.pids.items():
        assert pgid_alive(pid), name
        assert tcp_open(local_stack.ports[name]), name
    settings = load_settings(local_stack.env())
    settings.require_servicetitan()
    assert settings.st_api_base_url == local_stack.url("simulator")
    assert StackInfo.load(local_stack.root).pids == local_stack.pids
