"""The outcome of a check and how a set of outcomes reads as one verdict and exit code."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["GREEN", "YELLOW", "RED"]
GREEN: Status = "GREEN"
YELLOW: Status = "YELLOW"
RED: Status = "RED"
_RANK = {GREEN: 0, YELLOW: 1, RED: 2}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check, with the numbers behind it and what to look at next."""

    name: str
    status: Status
    message: str
    numbers: dict[str, Any] = field(default_factory=dict)
    threshold: dict[str, Any] = field(default_factory=dict)
    next_step: str = ""
    value: float | None = None

    @property
    def category(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def subject(self) -> str | None:
        parts = self.name.split(".", 1)
        return parts[1] if len(parts) > 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "category": self.category, "subject": self.subject}


def worst(results: Iterable[CheckResult]) -> Status:
    """The most severe status (GREEN when there are no results)."""
    return max((r.status for r in results), key=_RANK.__getitem__, default=GREEN)


def exit_code(results: Sequence[CheckResult], *, strict: bool = False) -> int:
    """0 all GREEN (or YELLOW without ``strict``), 1 YELLOW with ``strict``, 2 any RED."""
    status = worst(results)
    if status == RED:
        return 2
    if status == YELLOW and strict:
        return 1
    return 0
