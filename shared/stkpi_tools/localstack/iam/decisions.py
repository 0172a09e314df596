"""What the gate decided and remembers: the refusal's message and exception, the ledger of
allowed and refused calls (the health port serves it), one JSON line per event on stdout,
and which member started which BigQuery job (a caller's own jobs need fewer permissions).
"""

from __future__ import annotations

import collections
import json
import sys
import threading
from collections.abc import Mapping
from typing import Any

_OUT = threading.Lock()


def emit(record: Mapping[str, Any]) -> None:
    """One JSON line on stdout, whole (threads never interleave their lines)."""
    line = json.dumps(record, sort_keys=True) + "\n"
    with _OUT:
        sys.stdout.write(line)
        sys.stdout.flush()


class Ledger:
    """Counts allowed calls and keeps the last 200 refusals (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.allowed = 0
        self.denied_total = 0
        self.denied: collections.deque[dict[str, Any]] = collections.deque(maxlen=200)

    def allow(self) -> None:
        with self._lock:
            self.allowed += 1

    def deny(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.denied_total += 1
            self.denied.append(record)
        emit({"event": "iam_denied", **record})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "allowed": self.allowed,
                "denied_total": self.denied_total,
                "denied": list(self.denied),
            }


def denial_message(member: str, permission: str, resource: str) -> str:
    return f"{member} does not have {permission} access to {resource}."


class Denied(Exception):
    def __init__(self, message: str, permission: str = "", resource: str = "") -> None:
        super().__init__(message)
        self.message, self.permission, self.resource = message, permission, resource


class JobOwners:
    """Which member started which BigQuery job (own jobs need only jobs.create)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: dict[tuple[str, str], str] = {}

    def record(self, project: str, job_id: str, member: str) -> None:
        with self._lock:
            self._owner.setdefault((project, job_id), member)

    def is_own(self, project: str, job_id: str, member: str) -> bool:
        with self._lock:
            owner = self._owner.get((project, job_id))
        return owner is None or owner == member  # unseen (started ungated): assume own
