"""``StackInfo``: what a running local stack recorded about itself in ``<root>/stack.json``.

Separate from ``Stack`` (which starts the services) because other processes only read it:
``stkpi local down`` stops the recorded process groups, the CLI takes the operator's
environment from it, tests and tools take the emulators' admin environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stkpi_tools.localstack.process import ServiceError, kill_group, pgid_alive

STACK_FILE = "stack.json"


@dataclass
class StackInfo:
    """Where everything runs. ``env()`` is what pipeline processes need."""

    root: str
    project: str
    mode: str  # push | dispatcher
    ports: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)  # = process group ids
    logs: dict[str, str] = field(default_factory=dict)
    env_vars: dict[str, str] = field(default_factory=dict)  # the operator's (CLI) environment
    owned: list[str] = field(default_factory=list)  # services this stack must stop
    started_at: float = 0.0
    tf_variables: dict = field(default_factory=dict)  # what terraform/ was evaluated with
    iam: bool = True  # calls judged by the IAM gate
    admin_env_vars: dict[str, str] = field(default_factory=dict)  # emulators, ungated

    def env(self) -> dict[str, str]:
        """The operator's environment: what the CLI runs with (judged by the IAM gate)."""
        return dict(self.env_vars)

    def admin_env(self) -> dict[str, str]:
        """The same settings with the emulators reached directly, as the project owner
        (terraform apply) would: for tests and tools that inspect or seed the stack."""
        return {**self.env_vars, **self.admin_env_vars}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def urls(self) -> dict[str, str]:
        """Service name -> base URL (the Pub/Sub emulator speaks gRPC on the same port)."""
        return {name: self.url(name) for name in self.ports}

    def save(self) -> Path:
        path = Path(self.root) / STACK_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, root: Path | str) -> StackInfo:
        path = Path(root) / STACK_FILE
        if not path.exists():
            raise ServiceError(f"no local stack recorded at {path}")
        return cls(**json.loads(path.read_text()))

    def alive(self) -> dict[str, bool]:
        return {name: pgid_alive(pid) for name, pid in self.pids.items()}

    def stop(self, grace: float = 10.0) -> None:
        """Stop exactly the recorded process groups this stack started: all are told to
        stop first, then each is waited for (one after another took ~25 s)."""
        pids = [self.pids[n] for n in reversed(self.owned) if self.pids.get(n)]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        for pid in pids:
            kill_group(pid, grace=grace)
