"""``volume.<entity>`` (the latest complete day) and ``coverage.<entity>`` (months): are all
the records there? Judged against the entity's own history and by how unlikely a low count
is by chance (stkpi.validation.stats), so a small tenant's quiet day is not an alarm."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping

from stkpi.validation.config import ValidationConfig
from stkpi.validation.fmt import pct, sql_path
from stkpi.validation.result import GREEN, RED, YELLOW, CheckResult, Status
from stkpi.validation.stats import (
    dispersion,
    median_baseline,
    negative_binomial_cdf,
)


def judge_volume(
    entity: str,
    check_day: dt.date,
    counts_by_day: Mapping[dt.date, int],
    config: ValidationConfig,
) -> CheckResult:
    """The check day's count vs the median of the same weekday over the weeks before it.

    A low day is judged by how unlikely it is for the entity's own weekday median, not by
    the ratio alone: a tenant with 2 appointments on a Sunday has 0 or 1 often. The count
    is a negative binomial with that median as its mean and the spread of those same
    weekdays (:func:`dispersion`), widened by the median's own noise (1 + 1 / its weeks),
    as coverage judges a month: days come in clumps too (a job's several appointments, a
    sales visit's two or three estimates), and a Poisson count called a Saturday with 1
    job where 7 are usual a 0.003 chance when it happens every few months (the
    calibration: 7.6% of healthy tenants YELLOW). A run judges five entities' days every
    day, so ``volume_p_yellow`` is small, and days under ``volume_min_base`` records are
    not judged at all: there a one-day loss cannot be told from a quiet day (coverage
    catches it over the month).
    """
    history_days = [check_day - dt.timedelta(days=7 * k) for k in range(1, config.volume_weeks + 1)]
    history = [int(counts_by_day.get(d, 0)) for d in history_days]
    count = int(counts_by_day.get(check_day, 0))
    baseline = median_baseline(history)
    ratio = count / baseline if baseline else None
    spread = dispersion(history) * (1 + 1 / len(history))
    p_low = negative_binomial_cdf(count, baseline, spread) if baseline else None
    numbers = {
        "day": check_day.isoformat(),
        "count": count,
        "baseline_median": baseline,
        "dispersion": round(spread, 4),
        "ratio": None if ratio is None else round(ratio, 4),
        "p_as_low": None if p_low is None else float(f"{p_low:.3g}"),
        "history": {d.isoformat(): n for d, n in zip(history_days, history, strict=True)},
    }
    threshold = {
        "min_ratio": config.volume_drop_ratio,
        "weeks": config.volume_weeks,
        "min_base": config.volume_min_base,
        "p_red": config.volume_p_red,
        "p_yellow": config.volume_p_yellow,
    }
    name = f"volume.{entity}"
    weekday = check_day.strftime("%A")
    if baseline == 0:
        return CheckResult(
            name,
            GREEN,
            f"{entity}: {count} created on {check_day}; no {weekday} history to compare",
            numbers,
            threshold,
        )
    msg = (
        f"{entity}: {count} created on {weekday} {check_day} vs median {baseline:g} "
        f"of the {config.volume_weeks} {weekday}s before ({pct(ratio)})"
    )
    if baseline < config.volume_min_base:
        return CheckResult(
            name,
            GREEN,
            f"{msg}; too few a day to judge (median under {config.volume_min_base:g})",
            numbers,
            threshold,
            "",
            ratio,
        )
    low = ratio is not None and ratio < config.volume_drop_ratio
    if low and p_low is not None and p_low < config.volume_p_yellow:
        status: Status = RED if p_low < config.volume_p_red else YELLOW
        nxt = (
            f"{sql_path('volume_daily')} (table={entity}); if the API has the records, "
            f"re-sync the day: stkpi backfill --entities {entity} --start {check_day} "
            f"--end {check_day + dt.timedelta(days=1)}"
        )
        return CheckResult(
            name, status, f"{msg}; P(as low) = {p_low:.2g}", numbers, threshold, nxt, ratio
        )
    return CheckResult(name, GREEN, msg, numbers, threshold, "", ratio)


def _month_key(d: dt.date) -> str:
    return d.strftime("%Y-%m")


def add_months(d: dt.date, n: int) -> dt.date:
    idx = d.year * 12 + d.month - 1 + n
    return dt.date(idx // 12, idx % 12 + 1, 1)


def judge_coverage(
    entity: str,
    months: Mapping[dt.date, int],
    current_month: dt.date,
    config: ValidationConfig,
    *,
    required: bool = False,
) -> CheckResult:
    """Monthly counts from the first month with rows; gaps and big drops are YELLOW.

    Each complete month is compared with the median of the months before it (not the one
    month before: after a busy August a normal September is not a drop). It is a drop
    when it is under (1 - ``coverage_drop``) x that median and a count that low has under
    ``coverage_p`` probability for the entity: a negative binomial with that median as its
    mean and the spread of the entity's other complete months in the window
    (:func:`dispersion`), widened by the baseline's own noise (1 + 1 / its months).

    Why the whole window's spread and a small ``coverage_p`` (1e-7): a small tenant's
    records come in clumps (two or three estimates to a sales visit, a crew's day of pay
    items), so its months spread two to ten times more than a Poisson count, and six
    months are too few to measure that (the simulated tenant's estimates went 12 against
    a median of 41 in a month with 8 sales visits instead of 19, and six steady months
    before it had called that impossible). A real tenant does that too: a slow month of
    sales visits is not a sync gap. And a run judges about 120 months (12 entities, 10
    months each) every day: at 0.001 each, one healthy run in nine would be YELLOW. The
    calibration (``stkpi calibrate``, docs/VALIDATION.md) measures both rates on hundreds
    of tenants.

    Only complete months (before ``current_month``) are judged; the current month is
    reported as partial. A month needs ``coverage_min_baseline_months`` before it: one
    month's count is as noisy as the month judged.
    """
    name = f"coverage.{entity}"
    threshold = {
        "max_drop": config.coverage_drop,
        "months": config.coverage_months,
        "baseline_months": config.coverage_baseline_months,
        "min_baseline_months": config.coverage_min_baseline_months,
        "min_base": config.coverage_min_base,
        "p": config.coverage_p,
        "gap_base": config.coverage_gap_base,
    }
    if not months:
        status = RED if required else GREEN
        nxt = f"stkpi backfill --entities {entity} --start ... --end ..." if required else ""
        msg = f"{entity}: no rows" + ("" if required else " (not ingested)")
        return CheckResult(name, status, msg, {"months": {}}, threshold, nxt, 0.0)
    first = min(months)
    series: list[tuple[dt.date, int]] = []
    m = first
    while m <= current_month:
        series.append((m, int(months.get(m, 0))))
        m = add_months(m, 1)
    changes: dict[str, float | None] = {}
    baselines: dict[str, float] = {}
    chances: dict[str, float] = {}
    problems: list[str] = []
    for (_, prev_n), (cur_m, cur_n) in itertools.pairwise(series):
        change = (cur_n - prev_n) / prev_n if prev_n else None
        changes[_month_key(cur_m)] = None if change is None else round(change, 4)
    complete = [n for k, n in series if k < current_month]
    for i, (cur_m, cur_n) in enumerate(series):
        if cur_m >= current_month or i < config.coverage_min_baseline_months:
            continue  # the partial month; the first months have too few before them
        before = [n for _, n in series[max(0, i - config.coverage_baseline_months) : i]]
        baseline = median_baseline(before)
        baselines[_month_key(cur_m)] = baseline
        if baseline < config.coverage_min_base or cur_n >= (1 - config.coverage_drop) * baseline:
            continue
        others = complete[:i] + complete[i + 1 :]
        spread = dispersion(others) * (1 + 1 / len(before))
        chance = negative_binomial_cdf(cur_n, baseline, spread)
        chances[_month_key(cur_m)] = float(f"{chance:.3g}")
        gap = cur_n == 0 and baseline >= config.coverage_gap_base
        if chance >= config.coverage_p and not gap:
            continue  # low, but within what the entity's months spread
        if cur_n == 0:
            problems.append(f"no rows in {_month_key(cur_m)} (median before {baseline:g})")
        else:
            problems.append(
                f"{_month_key(cur_m)}: {cur_n} rows, {cur_n / baseline:.0%} of the median "
                f"{baseline:g} of the months before"
            )
    numbers = {
        "months": {_month_key(k): n for k, n in series},
        "mom_change": changes,
        "baseline_median": baselines,
        "p_as_low": chances,
        "partial_month": _month_key(current_month),
    }
    complete_months = [(k, n) for k, n in series if k < current_month]
    if complete_months:
        last_m, last_n = complete_months[-1]
        last_change = changes.get(_month_key(last_m))
        summary = f"{last_n} rows in {_month_key(last_m)} ({_fmt_change(last_change)} MoM)"
    else:
        summary = f"{series[-1][1]} rows in {_month_key(series[-1][0])} (partial)"
    if problems:
        return CheckResult(
            name,
            YELLOW,
            f"{entity}: {summary}; " + ", ".join(problems),
            numbers,
            threshold,
            f"{sql_path('coverage_monthly')} (table={entity}); re-sync the months "
            f"named: stkpi backfill --entities {entity} --start ... --end ...",
        )
    return CheckResult(name, GREEN, f"{entity}: {summary}", numbers, threshold)


def _fmt_change(change: float | None) -> str:
    return "n/a" if change is None else f"{change:+.1%}"
