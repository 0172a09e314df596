"""``reconciliation.servicetitan``: the validation of a reconciliation pass (stkpi.reconcile).

GREEN all match (or differ only by ServiceTitan's own report definitions,
``reconcile_expected_rules``), YELLOW other explained differences (or unexplained ones
under the threshold), RED unexplained differences above it.

Pure: the rows are the latest pass of ``${ops}.reconciliation``
(``sql/validations/reconciliation_latest.sql``); thresholds come from ValidationConfig.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stkpi.validation.config import ValidationConfig
from stkpi.validation.result import GREEN, RED, YELLOW, CheckResult

NAME = "reconciliation.servicetitan"
NEXT = "stkpi reconcile (the records behind each difference); the report's reconciliation panel"


def _above(row: Mapping[str, Any], config: ValidationConfig) -> bool:
    diff = abs(float(row.get("difference") or 0))
    theirs = abs(float(row.get("theirs") or 0))
    return diff >= config.reconcile_red_min_abs and diff >= config.reconcile_red_min_pct * theirs


def _by_definition(row: Mapping[str, Any], config: ValidationConfig) -> bool:
    """An explained cell whose every rule is one of ServiceTitan's report definitions."""
    rules = [r.strip() for r in str(row.get("rules") or "").split(", ") if r.strip()]
    expected = config.reconcile_expected_rules
    return bool(rules) and all(r.startswith(expected) for r in rules)


def _cell(row: Mapping[str, Any]) -> str:
    return f"{row['kpi']} {row['bu']} {row['week_start']} (ours {row['ours']}, ServiceTitan {row['theirs']})"


def judge_reconciliation(
    rows: Sequence[Mapping[str, Any]], config: ValidationConfig, has_report_map: bool = True
) -> CheckResult:
    threshold = {"red_min_abs": config.reconcile_red_min_abs,
                 "red_min_pct": config.reconcile_red_min_pct,
                 "expected_rules": list(config.reconcile_expected_rules)}  # fmt: skip
    if not has_report_map:  # never reconciled: nothing says the KPIs match ServiceTitan
        return CheckResult(NAME, YELLOW, "the tenant has no report map, so the KPIs are never "
                           "reconciled with ServiceTitan's reports",
                           {"cells": len(rows)}, threshold,
                           "stkpi tenant init (proposes the map from the tenant's reports); "
                           "stkpi tenant map-report")  # fmt: skip
    if not rows:  # mapped, but no daily run has reconciled yet
        return CheckResult(NAME, GREEN, "no reconciliation with ServiceTitan's reports stored "
                           "yet (the next daily run reconciles)", {}, threshold, NEXT)  # fmt: skip
    unexplained = [r for r in rows if r["status"] == "unexplained"]
    red = [r for r in unexplained if _above(r, config)]
    explained = [r for r in rows if r["status"] == "explained"]
    by_definition = [r for r in explained if _by_definition(r, config)]
    explained = [r for r in explained if not _by_definition(r, config)]
    numbers = {"cells": len(rows),
               "match": len(rows) - len(unexplained) - len(explained) - len(by_definition),
               "by_definition": len(by_definition),
               "explained": len(explained), "unexplained": len(unexplained),
               "unexplained_above_threshold": [_cell(r) for r in red[:20]],
               "run_id": rows[0].get("run_id")}  # fmt: skip
    if red:
        return CheckResult(
            NAME, RED,
            f"{len(red)} KPI cell(s) differ from ServiceTitan's reports with no rule to explain "
            f"them, e.g. {_cell(red[0])}",
            numbers, threshold, NEXT, value=float(len(red)),
        )  # fmt: skip
    if unexplained or explained:
        what = f"{len(explained)} explained"
        if unexplained:
            what += f", {len(unexplained)} unexplained under the threshold"
        return CheckResult(NAME, YELLOW,
                           f"{what} difference(s) from ServiceTitan's reports "
                           "(test customers, date basis, leads per job, ...)",
                           numbers, threshold, NEXT, value=0.0)  # fmt: skip
    if by_definition:
        return CheckResult(NAME, GREEN,
                           f"{len(rows)} KPI cells agree with ServiceTitan's reports; "
                           f"{len(by_definition)} differ only by ServiceTitan's own report "
                           "definitions (test customers, leads per job, date basis)",
                           numbers, threshold, NEXT, value=0.0)  # fmt: skip
    return CheckResult(NAME, GREEN, f"all {len(rows)} KPI cells match ServiceTitan's reports",
                       numbers, threshold, NEXT, value=0.0)  # fmt: skip
