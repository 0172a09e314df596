"""The doctor's verdicts: one ``Check`` a line, and the ``Report`` that sums them up.

Kept apart from the checks so every group of checks and the command's output share one
shape (and one exit code rule: 0 all good, 1 warnings, 2 failures).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from stkpi.servicetitan.errors import Redactor

Status = Literal["ok", "warn", "fail"]


@dataclass
class Check:
    """One line of the doctor's answer."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    checks: list[Check]
    skipped: list[str]
    settings: dict[str, Any]

    @property
    def status(self) -> Status:
        statuses = {c.status for c in self.checks}
        if "fail" in statuses or not self.checks:
            return "fail"
        return "warn" if "warn" in statuses else "ok"

    @property
    def exit_code(self) -> int:
        return {"ok": 0, "warn": 1, "fail": 2}[self.status]

    def to_json(self) -> str:
        return json.dumps(
            {
                "status": self.status,
                "exit_code": self.exit_code,
                "settings": self.settings,
                "checks": [asdict(c) for c in self.checks],
                "skipped": self.skipped,
            },
            indent=2,
            default=str,
        )


def clean(report: Report, redact: Redactor) -> Report:
    """Belt and braces: no secret value survives in any text shown."""
    for check in report.checks:
        check.detail, check.fix = redact(check.detail), redact(check.fix)
    return report
