"""Validation of deletes: ``deletes.<entity>`` for every entity ServiceTitan hard-deletes.

RED when the entity's latest key scan was stopped by its guard (stkpi.key_scan): the scan
saw far fewer records than raw holds, marked nothing, and someone must find out whether
ServiceTitan really lost them (a revoked scope, a truncated answer) or they were deleted
in bulk. Otherwise GREEN, with the rows marked deleted per week of the mark, so a week
whose KPIs moved because records vanished in ServiceTitan says so. An entity never
scanned is GREEN with a note: until the first scan, deletes are not looked for at all.

Kept apart from stkpi.validate (already long) but built the same way: SQL measures
(``sql/ops/key_scans_latest.sql``, ``sql/validations/deletes_weekly.sql``), plain Python
judges, and a check that cannot run is RED through the validator's guard.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from stkpi import sqlfiles
from stkpi.registry import DELETABLE

if TYPE_CHECKING:
    from stkpi.validate import CheckResult, Validator

WEEKS = 8  # weeks of marks shown per entity


def judge_deletes(
    entity: str, scan: Mapping[str, Any] | None, weekly: Mapping[dt.date, int]
) -> CheckResult:
    """The ``deletes.<entity>`` verdict from its latest scan event and weekly marks."""
    from stkpi.validate import GREEN, RED, CheckResult

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
            f"--max-share {_above(detail.get('share'))}",
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


def _above(share: Any) -> float:
    """A guard share that lets the refused scan through: its share plus a point, capped."""
    try:
        return min(1.0, math.ceil((float(share) + 0.01) * 100) / 100)
    except (TypeError, ValueError):
        return 1.0


def scan_detail(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        return dict(json.loads(raw or "{}"))
    except (TypeError, ValueError):
        return {}


def latest_scans(client: Any, settings: Any) -> dict[str, dict[str, Any]]:
    """Entity -> its latest ``keys_scanned`` event (``sql/ops/key_scans_latest.sql``)."""
    sql = sqlfiles.render("ops/key_scans_latest.sql", settings)
    return {r["entity"]: dict(r.items()) for r in client.query(sql).result()}


def deletes_checks(v: Validator) -> list[CheckResult]:
    """One ``deletes.<entity>`` check per deletable entity."""
    scans: dict[str, dict[str, Any]] = {}

    def load() -> list[CheckResult]:
        scans.update(latest_scans(v.client, v.settings))
        return []

    out = v._guard("deletes.scans", load)
    if out:  # the scan events could not be read: that RED says why
        return out
    since = (v.today - dt.timedelta(days=7 * WEEKS)).isoformat()
    for entity in DELETABLE:

        def one(entity: str = entity) -> list[CheckResult]:
            rows = v.query("deletes_weekly", {"since": since}, table=entity)
            weekly = {_date(r["week_start"]): int(r["deleted"]) for r in rows}
            return [judge_deletes(entity, scans.get(entity), weekly)]

        out += v._guard(f"deletes.{entity}", one)
    return out


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
