"""The report's reconciliation panel: ours vs ServiceTitan's per KPI, BU and week, and the
records behind each difference one click away (an anchor to its details, no JavaScript).
"""

from __future__ import annotations

import json
import re
from typing import Any

from stkpi.report.data import Section

BADGE = {"match": "GREEN", "explained": "YELLOW", "unexplained": "RED"}
RECORDS_SHOWN = 50  # per cell; `stkpi reconcile --json` lists them all


def _money(value: Any) -> str:
    return "" if value is None else f"{float(value):,.2f}"


def anchor(kpi: str, bu: str, week: Any) -> str:
    """The id of a cell's details: letters, digits and dashes only."""
    return "rec-" + re.sub(r"[^A-Za-z0-9]+", "-", f"{kpi}-{bu}-{week}").strip("-")


def reconciliation_view(section: Section) -> dict[str, Any]:
    if not section.ok:
        return {"message": section.message, "rows": [], "details": []}
    rows, details = [], []
    counts = {"match": 0, "explained": 0, "unexplained": 0}
    for r in section.rows:
        status = str(r["status"])
        counts[status] = counts.get(status, 0) + 1
        records = r.get("records") or "[]"
        records = json.loads(records) if isinstance(records, str) else records
        row = {
            "kpi": r["kpi"], "bu": r["bu"], "week": str(r["week_start"]),
            "ours": _money(r["ours"]), "theirs": _money(r["theirs"]),
            "difference": _money(r["difference"]), "status": status,
            "badge": BADGE.get(status, "YELLOW"), "rules": r.get("rules") or "",
            "anchor": anchor(r["kpi"], r["bu"], r["week_start"]) if records else None,
            "n_records": len(records),
        }  # fmt: skip
        rows.append(row)
        if records:
            details.append({
                **row, "note": r.get("note") or "",
                "records": [{**x, "ours_amount": _money(x.get("ours_amount")),
                             "st_amount": _money(x.get("st_amount")),
                             "why": x.get("rule") or x.get("note") or ""}
                            for x in records[:RECORDS_SHOWN]],
                "more": max(0, len(records) - RECORDS_SHOWN),
            })  # fmt: skip
    first = section.rows[0] if section.rows else {}
    return {
        "message": None,
        "rows": rows,
        "details": details,
        "counts": counts,
        "run_id": first.get("run_id"),
        "at": str(first.get("reconciled_at") or ""),
    }
