"""``kpi.presence`` / ``kpi.ranges`` / ``kpi.jumps``: the last complete weeks of
``kpi_weekly`` per BU: is every KPI of each BU's role there, in its plausible range, and
within the BU's usual weeks?"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stkpi import kpis
from stkpi.kpi_config import WEEK_START, week_of
from stkpi.validation.config import ValidationConfig
from stkpi.validation.fmt import sql_path
from stkpi.validation.result import GREEN, RED, YELLOW, CheckResult, Status


@dataclass(frozen=True)
class KpiRow:
    week_start: dt.date
    bu: str
    kpi: str
    kind: str | None
    value: float | None
    denominator: float | None = None


BUCKETS = frozenset({"unmapped", "unlinked"})


def kpi_weeks(today: dt.date, n: int, week_start: str = WEEK_START) -> list[dt.date]:
    """First days of the ``n`` complete weeks before ``today``'s week (weeks starting on
    the tenant's ``week_start``, as its marts' are), oldest first."""
    this_week = week_of(today, week_start)
    return [this_week - dt.timedelta(days=7 * k) for k in range(n, 0, -1)]


def _explain(kpi: str, bu: str, week: dt.date) -> str:
    return f"stkpi explain --kpi {kpi} --bu {json.dumps(bu)} --week {week.isoformat()}"


def judge_kpis(
    rows: Sequence[KpiRow],
    bu_roles: Mapping[str, str],
    weeks: Sequence[dt.date],
    config: ValidationConfig,
    today: dt.date,
) -> list[CheckResult]:
    """Presence of every KPI of each BU's role per week, value ranges, week-over-week jumps
    (``today`` tells which weeks have settled: :func:`unsettled`)."""
    return [
        judge_presence(rows, bu_roles, weeks, config),
        judge_ranges(rows, config, today),
        judge_jumps(rows, weeks, config, today),
    ]


def unsettled(row: KpiRow, config: ValidationConfig, today: dt.date) -> bool:
    """A week of a KPI with late costs whose last day is under ``kpi_settle_days`` before
    ``today``: its labor may not be in yet, so a high value is not evidence of an error.

    A crew's Friday is on a payroll item days later; the latest week's GPM of a small BU
    reads 96% until then, in ServiceTitan's own report as in ours.
    """
    last_day = row.week_start + dt.timedelta(days=6)
    settled_by = today - dt.timedelta(days=config.kpi_settle_days)
    return row.kpi in config.kpi_late_cost_kpis and last_day > settled_by


def judge_marts_missing(mart_dataset: str, error: Exception) -> list[CheckResult]:
    """The one result when ``kpi_weekly`` does not exist: nothing else can be judged."""
    return [
        CheckResult(
            "kpi.presence",
            RED,
            f"KPI marts missing: {mart_dataset}.kpi_weekly not found",
            {"error": str(error)[:300]},
            {},
            "rebuild the marts (rebuild_dims runs stkpi.marts.build_marts); "
            "sql/marts/kpi_weekly.sql",
        )
    ]


def judge_presence(
    rows: Sequence[KpiRow],
    bu_roles: Mapping[str, str],
    weeks: Sequence[dt.date],
    config: ValidationConfig,
) -> CheckResult:
    """``kpi.presence``: a row for every KPI of each BU's role in every week."""
    expected_by_role = {"Sales": config.sales_kpis, "Production": config.production_kpis}
    have = {(r.week_start, r.bu, r.kpi) for r in rows}
    week_txt = f"{weeks[0]}..{weeks[-1]}" if weeks else ""
    missing: list[dict[str, str]] = []
    expected_total = 0
    for bu, role in sorted(bu_roles.items()):
        for kpi in expected_by_role.get(role, ()):
            for week in weeks:
                expected_total += 1
                if (week, bu, kpi) not in have:
                    missing.append({"week": week.isoformat(), "bu": bu, "kpi": kpi})
    numbers = {
        "weeks": [w.isoformat() for w in weeks],
        "bus": len(bu_roles),
        "expected_rows": expected_total,
        "missing_rows": len(missing),
        "missing": missing[:20],
    }
    if missing:
        m = missing[0]
        return CheckResult(
            "kpi.presence",
            RED,
            f"{len(missing)} of {expected_total} KPI rows missing for {week_txt} "
            f"(first: {m['kpi']} for {m['bu']} week {m['week']})",
            numbers,
            {"weeks": len(weeks)},
            f"{sql_path('kpi_weekly_recent')}; rebuild the marts (stkpi.marts.build_marts) "
            "and check the BU map (sql/seeds/bu_map.csv)",
            float(len(missing)),
        )
    if not bu_roles:
        return CheckResult(
            "kpi.presence",
            RED,
            "no reporting business units found (dim_business_units empty?)",
            numbers,
            {"weeks": len(weeks)},
            f"{sql_path('kpi_business_units')}; {sql_path('join_jobs_business_units')}",
        )
    return CheckResult(
        "kpi.presence",
        GREEN,
        f"all {expected_total} KPI rows present for {len(bu_roles)} BUs, {week_txt}",
        numbers,
        {"weeks": len(weeks)},
        "",
        0.0,
    )


def judge_ranges(rows: Sequence[KpiRow], config: ValidationConfig, today: dt.date) -> CheckResult:
    """``kpi.ranges``: every value inside its KPI's plausible range (a big enough base); an
    unsettled week (:func:`unsettled`) only above its lower bound."""
    out_of_range: list[dict[str, Any]] = []
    provisional: list[dict[str, Any]] = []
    for r in rows:
        bounds = config.kpi_ranges.get(r.kpi)
        if bounds is None or r.value is None:
            continue
        if _small_base(r, config):
            continue  # too small a base to judge (one job's week)
        lo, hi = bounds
        cell = {"week": r.week_start.isoformat(), "bu": r.bu, "kpi": r.kpi, "value": r.value}
        if hi is not None and r.value > hi and unsettled(r, config, today):
            provisional.append(cell)
        elif (lo is not None and r.value < lo) or (hi is not None and r.value > hi):
            out_of_range.append(cell)
    range_threshold: dict[str, Any] = {k: list(v) for k, v in config.kpi_ranges.items()}
    range_threshold["min_denominator"] = dict(config.kpi_range_min_denominator)
    range_threshold["late_cost_kpis"] = list(config.kpi_late_cost_kpis)
    range_threshold["settle_days"] = config.kpi_settle_days
    if out_of_range:
        o = out_of_range[0]
        return _cells(
            "kpi.ranges",
            RED,
            f"{len(out_of_range)} KPI values out of range (first: {o['kpi']}={o['value']:g} "
            f"for {o['bu']} week {o['week']})",
            "out_of_range",
            out_of_range,
            range_threshold,
        )
    waiting = (
        f"; {len(provisional)} above range in weeks whose labor may not be in yet (not judged "
        f"until {config.kpi_settle_days} days after the week)"
        if provisional
        else ""
    )
    return CheckResult(
        "kpi.ranges",
        GREEN,
        f"{len(rows)} KPI values in range{waiting}",
        {"count": 0, "checked": len(rows), "unsettled_high": provisional[:20]},
        range_threshold,
        "",
        0.0,
    )


def judge_jumps(
    rows: Sequence[KpiRow], weeks: Sequence[dt.date], config: ValidationConfig, today: dt.date
) -> CheckResult:
    """``kpi.jumps``: no week outside the range of its BU's other weeks (:func:`_jump`); an
    unsettled week (:func:`unsettled`) only below them.

    Flows only. A balance as of a day is last week's balance moved by this week's flows:
    A/R by what was invoiced and collected, Future Bookings by what was booked and
    produced. Those flows are judged here themselves, and a lost window is coverage's and
    reconciliation's to find. Judged on its own, a small BU's A/R is a few open invoices,
    and one paid or one new invoice moves it by any factor (a painting BU's A/R
    $3,738..$9,161 for weeks, then $1,091 when a customer paid).
    """
    series: dict[tuple[str, str], dict[dt.date, KpiRow]] = defaultdict(dict)
    for r in rows:
        series[(r.bu, r.kpi)][r.week_start] = r
    jumps: list[dict[str, Any]] = []
    for (bu, kpi), by_week in sorted(series.items()):
        if bu in BUCKETS or kpis.is_balance(kpi):
            continue  # a balance moves by its week's flows, which are judged themselves
        values = {
            w: r.value
            for w, r in by_week.items()
            if w in weeks and r.value is not None and not _small_base(r, config)
        }
        for week, value in sorted(values.items()):
            others = [v for w, v in values.items() if w != week]
            if len(others) < config.kpi_jump_min_history:
                continue
            if value > max(others) and unsettled(by_week[week], config, today):
                continue  # its labor may not be in yet
            kind = by_week[week].kind or kpis.kind_of(kpi)
            jump = _jump(value, others, kind, config)
            if jump is not None:
                jumps.append(
                    {
                        "week": week.isoformat(),
                        "bu": bu,
                        "kpi": kpi,
                        "value": value,
                        "usual_range": [min(others), max(others)],
                        "change": jump,
                    }
                )
    jump_threshold = {
        "factor": config.kpi_jump_factor,
        "min_base": dict(config.kpi_jump_min_base),
        "ratio_abs": config.kpi_jump_ratio_abs,
        "min_history": config.kpi_jump_min_history,
        "min_denominator": dict(config.kpi_range_min_denominator),
    }
    if jumps:
        j = jumps[0]
        return _cells(
            "kpi.jumps",
            YELLOW,
            f"{len(jumps)} weeks outside their BU's usual range (first: {j['kpi']} for "
            f"{j['bu']} {j['value']:g} in week {j['week']}; other weeks "
            f"{j['usual_range'][0]:g}..{j['usual_range'][1]:g})",
            "jumps",
            jumps,
            jump_threshold,
        )
    return CheckResult(
        "kpi.jumps",
        GREEN,
        "no week outside its BU's usual range",
        {"count": 0},
        jump_threshold,
        "",
        0.0,
    )


def _cells(
    name: str,
    status: Status,
    message: str,
    key: str,
    cells: Sequence[Mapping[str, Any]],
    threshold: dict[str, Any],
) -> CheckResult:
    """A check that found KPI cells to look at: how many, the first 20 under ``key``, and
    the ``stkpi explain`` command of the first as the next step."""
    first = cells[0]
    return CheckResult(
        name,
        status,
        message,
        {key: list(cells[:20]), "count": len(cells)},
        threshold,
        _explain(first["kpi"], first["bu"], dt.date.fromisoformat(first["week"])),
        float(len(cells)),
    )


def _small_base(row: KpiRow, config: ValidationConfig) -> bool:
    """A ratio over too small a denominator (a week of one job) is neither judged against
    its range nor as a jump: 0 -> 100% warranty is one warranty job."""
    floor = config.kpi_range_min_denominator.get(row.kpi)
    return floor is not None and row.denominator is not None and abs(row.denominator) < floor


def _jump(
    value: float,
    others: Sequence[float],
    kind: str,
    config: ValidationConfig,
) -> str | None:
    """How ``value`` leaves the range of the BU's other weeks, or None when it does not.

    Judged against the series' own weeks rather than the week before: a small BU whose
    $ Collected goes 1,246 -> 0 -> 1,357 -> 0 does that every month, while a BU that
    collects 50,000 every week and then 0 has a problem. Money and counts must also reach
    the minimum base (the value or the median of the other weeks), so 2 -> 7 leads stays
    quiet, and the other weeks must be steady (the highest within ``kpi_jump_factor`` x the
    lowest): a BU whose weeks already range from $763 to $7,019 because one painting job is
    a week's whole revenue has no usual range a $28,000 week leaves, while a week the
    pipeline lost shows in a BU that is steady.
    """
    lo, hi = min(others), max(others)
    if kind == "ratio":
        margin = config.kpi_jump_ratio_abs
        if value > hi + margin:
            return f"{value - hi:+.3f} above the range"
        if value < lo - margin:
            return f"{value - lo:+.3f} below the range"
        return None
    base = config.kpi_jump_min_base.get(kind, 0.0)
    if max(abs(value), abs(statistics.median(others))) < base:
        return None
    factor = config.kpi_jump_factor
    if lo <= 0 or hi > factor * lo:
        return None  # the BU's weeks already swing by more than the factor
    if value > factor * hi and value > 0:
        return f"x {value / hi:.2f} of the highest"
    if value < lo / factor:
        return f"x {value / lo:.2f} of the lowest"
    return None


def roles_from_rows(rows: Sequence[KpiRow], config: ValidationConfig) -> dict[str, str]:
    """Each BU's role guessed from which KPIs it has, when ``dim_business_units`` is not
    there to say (datasets built before it)."""
    roles: dict[str, str] = {}
    for r in rows:
        if r.bu in BUCKETS:
            continue
        if r.kpi in config.sales_kpis:
            roles.setdefault(r.bu, "Sales")
        elif r.kpi in config.production_kpis:
            roles.setdefault(r.bu, "Production")
    return roles
