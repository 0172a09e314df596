"""Validation of deletes: ``deletes.<entity>`` for every entity ServiceTitan hard-deletes.

RED when the entity's latest key scan was stopped by its guard (stkpi.key_scan): the scan
saw far fewer records than raw holds, marked nothing, and someone must find out whether
ServiceTitan really lost them (a revoked scope, a truncated answer) or they were deleted
in bulk. Otherwise GREEN, with the rows marked deleted per week of the mark, so a week
whose KPIs moved because records vanished in ServiceTitan says so. An entity never
scanned is GREEN with a note: until the first scan, deletes are not looked for at all.

Pure: the latest scan events come from ``sql/ops/key_scans_latest.sql`` and the weekly
marks from ``sql/validations/deletes_weekly.sql`` (stkpi.validation.measures).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from stkpi.key_scan import share_above
from stkpi.validation.result import GREEN, RED, CheckResult

WEEKS = 8  # weeks of marks shown per entity


def judge_deletes(
    entity: str, scan: Mapping[str, Any] | None, weekly: Mapping[dt.date, int]
) -> CheckResult:
    """The ``deletes.<entity>`` verdict from its latest scan event and weekly marks."""
    name = f"deletes.{entity}"
    weeks = {d.isoformat(): n for d, n in sorted(weekly.items())}
    total = sum(weekly.values())
    if scan is None:
        return CheckResult(
            name,
            GREEN,
            f"{entity}: never key-scanned; deletes in ServiceTitan are not detected yet",
            {"weeks": weeks},
            {},
            "stkpi deletes (the weekly schedule runs it)",
            value=float(total),
        )
    detail = scan_detail(scan.get("detail"))
    numbers = {
        "weeks": weeks,
        "last_scan_run": scan.get("run_id"),
        "last_scan_at": str(scan.get("event_time")),
        **{k: detail.get(k) for k in ("keys_seen", "live", "to_mark", "to_unmark", "share")},
    }
    threshold = {"max_share": detail.get("max_share")}
    if detail.get("guarded"):
        return CheckResult(
            name,
            RED,
            str(detail.get("reason") or f"{entity}: the key scan's guard stopped it"),
            numbers,
            threshold,
            "check the app's API scopes and what ServiceTitan lists for "
            f"{entity}; if the deletes are real: stkpi deletes --entities {entity} "
            f"--allow-share {share_above(detail.get('share')):g}",
            value=float(detail.get("to_mark") or 0),
        )
    by_week = ", ".join(f"{w}: {n}" for w, n in weeks.items()) or "none"
    return CheckResult(
        name,
        GREEN,
        f"{entity}: {total} rows marked deleted in the last {WEEKS} weeks ({by_week}); "
        f"last scan {scan.get('run_id')} marked {detail.get('to_mark', 0)}, "
        f"{detail.get('to_unmark', 0)} reappeared",
        numbers,
        threshold,
        "",
        value=float(total),
    )


def scan_detail(raw: Any) -> dict[str, Any]:
    """A scan event's ``detail`` as a dict, whether stored as JSON text or a record."""
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        return dict(json.loads(raw or "{}"))
    except (TypeError, ValueError):
        return {}
