"""The log contract between the code and terraform/monitoring.tf: the one place that names
the fields and values the log-based metrics and alert policies filter on.

Cloud Logging parses each JSON line a function prints (``stkpi.logs``) into a LogEntry:
``severity`` becomes the entry's severity and the rest its ``jsonPayload``. The metric
``stkpi/validation_failed`` counts entries with ``jsonPayload.event="validation"`` and
``jsonPayload.passed=false``, labelled ``check`` = ``jsonPayload.check``; the freshness and
volume alerts select ``metric.label.check="freshness"`` / ``"volume_drop"``.

For every validation check, the step that runs the validations (rebuild_dims after a
rebuild, and the daily scheduled validation, both through
:func:`stkpi.validation.runner.run_validations`) logs exactly one line::

    {"event": "validation", "check": "<family>", "passed": true|false,
     "status": "GREEN"|"YELLOW"|"RED", "run_id": "...", "entity": "<entity>"|null,
     "check_name": "<family source>.<subject>", "detail": "<short text>", ...}

- ``check`` is the check's *family*: the part of its name before the first dot, except
  ``volume`` -> ``volume_drop`` (the name the alert and the docs use). See ``FAMILIES``.
- ``passed`` is false exactly when the status is RED. YELLOW ("worth a look": a coverage
  gap, a link rate under target, a KPI jump) passes, as it does for ``stkpi validate``'s
  exit status; freshness and volume checks are only ever GREEN or RED, so their alerts
  fire on RED: newest data or last sync older than 25 h, a day's count under 50% of the
  median of the same weekday over the weeks before it.
- a failed check logs at WARNING, a passed one at INFO. Not ERROR: ``stkpi/function_errors``
  counts ERROR lines as "the function is failing", and a RED check is a finding about the
  data, alerted by its own policy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from stkpi.registry import ENTITIES

if TYPE_CHECKING:
    from stkpi.validation.result import CheckResult

# Field names (jsonPayload.<field>) and the event value the metric filter selects.
EVENT = "event"
CHECK = "check"
PASSED = "passed"
STATUS = "status"
RUN_ID = "run_id"
ENTITY = "entity"
CHECK_NAME = "check_name"
DETAIL = "detail"
VALIDATION_EVENT = "validation"

# Check family by the prefix of the check's name (``CheckResult.category``).
FAMILY_BY_CATEGORY: dict[str, str] = {
    "freshness": "freshness",
    "volume": "volume_drop",
    "coverage": "coverage",
    "join": "join",
    "kpi": "kpi",
    "pipeline": "pipeline",
}
FAMILIES: frozenset[str] = frozenset(FAMILY_BY_CATEGORY.values())
# The families terraform/monitoring.tf alerts on (metric.label.check = ...).
ALERTED_FAMILIES: frozenset[str] = frozenset({"freshness", "volume_drop"})

FAILED_LEVEL = logging.WARNING
PASSED_LEVEL = logging.INFO
DETAIL_CHARS = 300

_ENTITY_NAMES = frozenset(e.name for e in ENTITIES)

log = logging.getLogger("stkpi.validation")
# Without logging configured (the CLI prints its own table), these lines go nowhere
# instead of to Python's last-resort stderr handler; the functions configure the root
# logger (stkpi.logs.setup), which they propagate to.
log.addHandler(logging.NullHandler())


def family(check_name: str) -> str:
    """The ``check`` value of a check name: ``volume.invoices`` -> ``volume_drop``."""
    category = check_name.split(".", 1)[0]
    return FAMILY_BY_CATEGORY.get(category, category)


def passed(status: str) -> bool:
    return status != "RED"


def validation_fields(result: CheckResult, *, run_id: str) -> dict[str, Any]:
    """The structured fields of one check's line (without ``severity``/``message``)."""
    subject = result.subject
    ok = passed(result.status)
    fields: dict[str, Any] = {
        EVENT: VALIDATION_EVENT,
        CHECK: family(result.name),
        PASSED: ok,
        STATUS: result.status,
        RUN_ID: run_id,
        ENTITY: subject if subject in _ENTITY_NAMES else None,
        CHECK_NAME: result.name,
        DETAIL: result.message[:DETAIL_CHARS],
        "value": result.value,
    }
    if not ok and result.next_step:
        fields["next_step"] = result.next_step[:DETAIL_CHARS]
    return fields


def log_validations(results: Iterable[CheckResult], *, run_id: str) -> None:
    """One line per check, as the module docstring says."""
    for r in results:
        fields = validation_fields(r, run_id=run_id)
        level = PASSED_LEVEL if fields[PASSED] else FAILED_LEVEL
        log.log(level, f"validation {r.name}: {r.status}", extra=fields)
