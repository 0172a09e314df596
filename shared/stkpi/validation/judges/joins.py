"""``join.<name>``: how many rows link to their parent (invoices to jobs, jobs to business
units, ...), judged against each join's thresholds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from stkpi.validation.config import ValidationConfig
from stkpi.validation.fmt import pct, sql_path
from stkpi.validation.result import GREEN, RED, YELLOW, CheckResult, Status
from stkpi.validation.stats import poisson_sf

JOIN_LABELS = {
    "invoices_jobs": "invoices->jobs",
    "payments_invoices": "payments->invoices",
    "estimates_jobs": "estimates->jobs",
    "appointments_jobs": "appointments->jobs",
    "gross_pay_items_jobs": "gross-pay items->jobs",
    "jobs_business_units": "jobs->business units",
}


def judge_join(
    join: str,
    *,
    total: int,
    linked: int,
    config: ValidationConfig,
    extra: Mapping[str, Any] | None = None,
    next_step: str = "",
) -> CheckResult:
    """Link rate vs the join's thresholds: RED below ``red_below``; YELLOW below target when
    the unlinked count is more than the target allows beyond chance (``join_p``), so a small
    tenant one invoice over 1% is not flagged while a steady excess is."""
    t = config.join(join)
    rate = linked / total if total else None
    allowed = (1 - t.target) * total
    chance = poisson_sf(total - linked, allowed)
    numbers = {
        "total": total, "linked": linked, "unlinked": total - linked, "rate": rate,
        "allowed_unlinked": round(allowed, 1), "p_value": chance,
    }  # fmt: skip
    numbers.update(extra or {})
    threshold = {"red_below": t.red_below, "target": t.target, "p": config.join_p}
    label = JOIN_LABELS.get(join, join)
    name = f"join.{join}"
    if rate is None:
        return CheckResult(name, GREEN, f"{label}: no rows to link", numbers, threshold)
    msg = f"{label}: {linked}/{total} linked ({pct(rate)}; target {pct(t.target)})"
    if rate < t.red_below:
        status: Status = RED
    elif rate < t.target and chance < config.join_p:
        status = YELLOW
    else:
        if rate < t.target:
            msg += f"; {total - linked} unlinked is within chance of the {allowed:.1f} allowed"
        return CheckResult(name, GREEN, msg, numbers, threshold, "", rate)
    return CheckResult(name, status, msg, numbers, threshold, next_step or sql_path(name), rate)


def judge_jobs_business_units(
    rows: Sequence[Mapping[str, Any]], config: ValidationConfig
) -> CheckResult:
    """Jobs whose BU the BU map does not list, judged as a join and named BU by BU.

    ``rows``: ``join_jobs_business_units.sql``'s total row (``is_total``) and one row per
    unmapped BU with its jobs, so the message says which BUs to add to the map.
    """
    total = next((int(r["jobs"]) for r in rows if r["is_total"]), 0)
    listed = [
        {
            "business_unit_id": r["business_unit_id"],
            "bu_name": r["bu_name"] or f"<id {r['business_unit_id']} not in business_units>",
            "jobs": int(r["jobs"]),
        }
        for r in rows
        if not r["is_total"]
    ]
    n_unmapped = sum(u["jobs"] for u in listed)
    result = judge_join(
        "jobs_business_units",
        total=total,
        linked=total - n_unmapped,
        config=config,
        extra={"unmapped_bus": listed},
        next_step="map each BU (ROLE Sales or Production): `stkpi tenant map-bu --name NAME "
        "--role ROLE --region REGION` "
        f"(the kpi.bu_map check lists the commands); {sql_path('join_jobs_business_units')}",
    )
    if not listed:
        return result
    named = ", ".join(f"{u['bu_name']} ({u['jobs']} jobs)" for u in listed[:5])
    return replace(result, message=f"{result.message}; unmapped BUs: {named}")
