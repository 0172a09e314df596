"""Data validations: can this morning's numbers be trusted?

Each check is one SQL file under ``sql/validations/`` that *measures* (counts, link rates,
newest timestamps, the KPI rows); the judgement (GREEN / YELLOW / RED against the
thresholds of :class:`~stkpi.validation_config.ValidationConfig`) is plain Python below, so
thresholds are configuration and the rules are unit-tested without BigQuery.

Checks (``CheckResult.name`` = ``<category>.<subject>``):

- ``coverage.<entity>``: rows per month and their month-over-month change.
- ``volume.<entity>``: the latest complete day (report TZ) vs the median of the same weekday
  over the weeks before it.
- ``freshness.<entity>``: newest ``modifiedOn`` in raw and the last successful sync.
- ``join.<name>``: link rates (invoices->jobs, payments->invoices, ...; jobs->BUs lists the
  unmapped BUs by name).
- ``kpi.presence`` / ``kpi.ranges`` / ``kpi.jumps``: the last complete weeks of
  ``kpi_weekly`` per BU.
- ``reconciliation.servicetitan``: the latest pass of our KPIs vs ServiceTitan's reports
  (``stkpi.reconcile.judge``): YELLOW explained differences, RED unexplained ones.
- ``pipeline.failed_windows`` / ``pipeline.stuck_windows`` / ``pipeline.dead_letters`` /
  ``pipeline.runs_without_rebuild``.
- ``deletes.<entity>``: rows the key scan marked deleted per week; RED when the latest
  scan's guard refused it (stkpi.validate_deletes).

A check that cannot run (a missing table, an emulator error) is RED with the error, never a
crash that hides the other checks. Results are appended to ``${ops}.validation_results``,
and each is logged as one structured line (``event="validation"``) that the alerts in
terraform/monitoring.tf count: the fields are :mod:`stkpi.log_contract`'s.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from google.api_core.exceptions import NotFound
from google.cloud import bigquery

from stkpi import kpis, log_contract, logs, sqlfiles
from stkpi.config import Settings
from stkpi.kpi_config import load_bu_map, sql_string
from stkpi.registry import get_entity
from stkpi.validation_config import ValidationConfig

log = logs.get(__name__)

Status = Literal["GREEN", "YELLOW", "RED"]
GREEN: Status = "GREEN"
YELLOW: Status = "YELLOW"
RED: Status = "RED"
_RANK = {GREEN: 0, YELLOW: 1, RED: 2}
VALIDATIONS = "validations"
DeadLetterCounter = Callable[[], Mapping[str, int]]


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


def _sql_path(name: str) -> str:
    return f"sql/{VALIDATIONS}/{name}.sql"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


# -- judgements (pure) -------------------------------------------------------------------


def median_baseline(counts: Sequence[int]) -> float:
    return float(statistics.median(counts)) if counts else 0.0


def poisson_sf(k: int, mean: float) -> float:
    """P(X >= k) for a Poisson count with ``mean``: how surprising a high count is."""
    return 1.0 - poisson_cdf(k - 1, mean) if k > 0 else 1.0


def poisson_cdf(k: int, mean: float) -> float:
    """P(X <= k) for a Poisson count with ``mean``: how surprising a low count is.

    Record counts of a day or a month behave roughly like Poisson counts, whose spread is
    the square root of the mean: 1 where 3 are usual happens (P = 0.2); 10 where 100 are
    usual does not (P ~ 1e-30). Summed in log space so large means do not underflow.
    """
    if k < 0:
        return 0.0
    if mean <= 0:
        return 1.0
    log_mean = math.log(mean)
    terms = [i * log_mean - mean - math.lgamma(i + 1) for i in range(k + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def judge_volume(
    entity: str,
    check_day: dt.date,
    counts_by_day: Mapping[dt.date, int],
    config: ValidationConfig,
) -> CheckResult:
    """The check day's count vs the median of the same weekday over the weeks before it.

    A low day is judged by how unlikely it is for the entity's own weekday median, not by
    the ratio alone: a tenant with 2 appointments on a Sunday has 0 or 1 often.
    """
    history_days = [check_day - dt.timedelta(days=7 * k) for k in range(1, config.volume_weeks + 1)]
    history = [int(counts_by_day.get(d, 0)) for d in history_days]
    count = int(counts_by_day.get(check_day, 0))
    baseline = median_baseline(history)
    ratio = count / baseline if baseline else None
    p_low = poisson_cdf(count, baseline) if baseline else None
    numbers = {
        "day": check_day.isoformat(),
        "count": count,
        "baseline_median": baseline,
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
        f"of the {config.volume_weeks} {weekday}s before ({_pct(ratio)})"
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
            f"{_sql_path('volume_daily')} (table={entity}); if the API has the records, "
            f"re-sync the day: stkpi backfill --entities {entity} --start {check_day} "
            f"--end {check_day + dt.timedelta(days=1)}"
        )
        return CheckResult(
            name, status, f"{msg}; P(as low) = {p_low:.2g}", numbers, threshold, nxt, ratio
        )
    return CheckResult(name, GREEN, msg, numbers, threshold, "", ratio)


def _month_key(d: dt.date) -> str:
    return d.strftime("%Y-%m")


def _add_months(d: dt.date, n: int) -> dt.date:
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
    month before: after a busy August a normal September is not a drop), and only when
    the shortfall is beyond what chance gives a count of that size (:func:`poisson_cdf`):
    a small tenant's 3-a-month entity has empty months. Only complete months (before
    ``current_month``) are judged; the current month is reported as partial.
    """
    name = f"coverage.{entity}"
    threshold = {
        "max_drop": config.coverage_drop,
        "months": config.coverage_months,
        "baseline_months": config.coverage_baseline_months,
        "min_base": config.coverage_min_base,
        "p": config.coverage_p,
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
        m = _add_months(m, 1)
    changes: dict[str, float | None] = {}
    baselines: dict[str, float] = {}
    problems: list[str] = []
    for (_, prev_n), (cur_m, cur_n) in itertools.pairwise(series):
        change = (cur_n - prev_n) / prev_n if prev_n else None
        changes[_month_key(cur_m)] = None if change is None else round(change, 4)
    for i, (cur_m, cur_n) in enumerate(series):
        if cur_m >= current_month or i == 0:
            continue  # the partial month; the first month has nothing before it
        before = [n for _, n in series[max(0, i - config.coverage_baseline_months) : i]]
        baseline = median_baseline(before)
        baselines[_month_key(cur_m)] = baseline
        if baseline < config.coverage_min_base or cur_n >= (1 - config.coverage_drop) * baseline:
            continue
        if poisson_cdf(cur_n, baseline) >= config.coverage_p:
            continue  # low, but a small entity's months vary that much
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
        "partial_month": _month_key(current_month),
    }
    complete = [(k, n) for k, n in series if k < current_month]
    if complete:
        last_m, last_n = complete[-1]
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
            f"{_sql_path('coverage_monthly')} (table={entity}); re-sync the months "
            f"named: stkpi backfill --entities {entity} --start ... --end ...",
        )
    return CheckResult(name, GREEN, f"{entity}: {summary}", numbers, threshold)


def _fmt_change(change: float | None) -> str:
    return "n/a" if change is None else f"{change:+.1%}"


def _age_hours(now: dt.datetime, ts: dt.datetime | None) -> float | None:
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return round((now - ts).total_seconds() / 3600, 2)


@dataclass(frozen=True)
class FreshnessHistory:
    """How an entity's versions arrived over the weeks before its newest one.

    ``gaps_hours``: the gaps between consecutive ``modifiedOn`` values that are at least
    ``min_gap_hours`` long (shorter ones cannot decide a threshold of hours);
    ``records``: versions in the ``weeks`` weeks before the newest.
    """

    weeks: int
    records: int
    gaps_hours: Sequence[float]


def usual_silence_hours(gaps_hours: Sequence[float], span_hours: float, q: float = 0.95) -> float:
    """The data age the entity stayed under for ``q`` of the time over ``span_hours``.

    Not the 95th percentile of the gaps: a tenant with 500 changes a day has thousands of
    second-long gaps and one 60-hour weekend, and its data is 40 hours old every Monday
    morning. Weighting each gap by its length gives the age a check at a random moment
    would have seen: the time with age above X is the sum of (gap - X) over the gaps
    longer than X. Solved exactly, largest gaps first.
    """
    target = (1 - q) * span_hours
    gaps = sorted((g for g in gaps_hours if g > 0), reverse=True)
    total = 0.0
    for k, g in enumerate(gaps, start=1):
        total += g
        x = (total - target) / k
        nxt = gaps[k] if k < len(gaps) else 0.0
        if x >= nxt:
            return max(0.0, x)
    return 0.0


def judge_freshness(
    entity: str,
    *,
    now: dt.datetime,
    row_count: int,
    newest_modified: dt.datetime | None,
    last_sync: dt.datetime | None,
    config: ValidationConfig,
    history: FreshnessHistory | None = None,
) -> CheckResult:
    """A sync older than the limit is RED; so is data older than the entity usually goes
    without a change (``history``), never less than the configured limit.

    A small tenant's estimates may see no change for two days; a large tenant's jobs see
    one every minute. One fixed limit is either blind for the second or RED every weekend
    for the first, so the data-age limit is max(``freshness_max_hours``,
    ``freshness_gap_factor`` x :func:`usual_silence_hours` of the weeks before the newest
    record). The history ends at the newest record, not now, so an entity that stopped
    weeks ago is judged by how it behaved while it was arriving.
    """
    name = f"freshness.{entity}"
    floor = config.freshness_max_hours
    sync_age = _age_hours(now, last_sync)
    data_age = _age_hours(now, newest_modified)
    check_data = entity in config.data_freshness_entities
    required = entity in config.required_entities
    usual: float | None = None
    data_limit = floor
    sparse = False
    if history is not None:
        if history.records >= config.freshness_min_records:
            usual = round(usual_silence_hours(history.gaps_hours, history.weeks * 168.0), 2)
            data_limit = max(floor, round(config.freshness_gap_factor * usual, 1))
        else:
            sparse = True
    numbers = {
        "rows": row_count,
        "newest_modified_on": newest_modified.isoformat() if newest_modified else None,
        "data_age_hours": data_age,
        "last_sync": last_sync.isoformat() if last_sync else None,
        "sync_age_hours": sync_age,
        "history_records": None if history is None else history.records,
        "usual_silence_hours": usual,
    }
    threshold = {
        "max_age_hours": floor,
        "data_max_age_hours": data_limit,
        "checks_data_age": check_data and not sparse,
        "gap_factor": config.freshness_gap_factor,
        "history_weeks": config.freshness_history_weeks,
        "min_records": config.freshness_min_records,
    }
    problems = []
    if last_sync is None:
        if not required and row_count == 0:
            return CheckResult(
                name, GREEN, f"{entity}: not ingested", numbers, threshold, "", sync_age
            )
        problems.append("never synced")
    elif sync_age is not None and sync_age > floor:
        problems.append(f"last sync {sync_age:.1f} h ago (limit {floor:g} h)")
    if check_data:
        if newest_modified is None:
            problems.append("no rows")
        elif not sparse and data_age is not None and data_age > data_limit:
            why = f"usual silence {usual:g} h x {config.freshness_gap_factor:g}" if usual else ""
            problems.append(
                f"newest modifiedOn {data_age:.1f} h old (limit {data_limit:g} h"
                + (f"; {why}" if why and data_limit > floor else "")
                + ")"
            )
    parts = [f"last sync {_fmt_hours(sync_age)} ago"]
    if newest_modified is not None:
        parts.append(f"newest modifiedOn {_fmt_hours(data_age)} old")
    if check_data and sparse and history is not None:
        parts.append(
            f"{history.records} changes in the {history.weeks} weeks before it: "
            "too few to judge the data age"
        )
    elif check_data and newest_modified is not None:
        parts.append(f"limit {data_limit:g} h")
    summary = f"{entity}: " + ", ".join(parts)
    if problems:
        return CheckResult(
            name,
            RED,
            f"{entity}: " + "; ".join(problems),
            numbers,
            threshold,
            "stkpi status (did the daily run plan, load and rebuild?); "
            f"{_sql_path('freshness_sync')}; {_sql_path('entity_totals')} (table={entity})",
            max(a for a in (sync_age, data_age) if a is not None)
            if (sync_age is not None or data_age is not None)
            else None,
        )
    return CheckResult(name, GREEN, summary, numbers, threshold, "", sync_age)


def _fmt_hours(h: float | None) -> str:
    return "never" if h is None else f"{h:.1f} h"


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
    msg = f"{label}: {linked}/{total} linked ({_pct(rate)}; target {_pct(t.target)})"
    if rate < t.red_below:
        status: Status = RED
    elif rate < t.target and chance < config.join_p:
        status = YELLOW
    else:
        if rate < t.target:
            msg += f"; {total - linked} unlinked is within chance of the {allowed:.1f} allowed"
        return CheckResult(name, GREEN, msg, numbers, threshold, "", rate)
    return CheckResult(name, status, msg, numbers, threshold, next_step or _sql_path(name), rate)


@dataclass(frozen=True)
class KpiRow:
    week_start: dt.date
    bu: str
    kpi: str
    kind: str | None
    value: float | None
    denominator: float | None = None


BUCKETS = frozenset({"unmapped", "unlinked"})


def kpi_weeks(today: dt.date, n: int) -> list[dt.date]:
    """Mondays of the ``n`` complete weeks before ``today``'s week, oldest first."""
    this_monday = today - dt.timedelta(days=today.weekday())
    return [this_monday - dt.timedelta(days=7 * k) for k in range(n, 0, -1)]


def _explain(kpi: str, bu: str, week: dt.date) -> str:
    return f"stkpi explain --kpi {kpi} --bu {json.dumps(bu)} --week {week.isoformat()}"


def judge_kpis(
    rows: Sequence[KpiRow],
    bu_roles: Mapping[str, str],
    weeks: Sequence[dt.date],
    config: ValidationConfig,
) -> list[CheckResult]:
    """Presence of every KPI of each BU's role per week, value ranges, week-over-week jumps."""
    expected_by_role = {"Sales": config.sales_kpis, "Production": config.production_kpis}
    have = {(r.week_start, r.bu, r.kpi) for r in rows}
    week_txt = f"{weeks[0]}..{weeks[-1]}" if weeks else ""
    # presence
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
        presence = CheckResult(
            "kpi.presence",
            RED,
            f"{len(missing)} of {expected_total} KPI rows missing for {week_txt} "
            f"(first: {m['kpi']} for {m['bu']} week {m['week']})",
            numbers,
            {"weeks": len(weeks)},
            f"{_sql_path('kpi_weekly_recent')}; rebuild the marts (stkpi.marts.build_marts) "
            "and check the BU map (sql/seeds/bu_map.csv)",
            float(len(missing)),
        )
    elif not bu_roles:
        presence = CheckResult(
            "kpi.presence",
            RED,
            "no reporting business units found (dim_business_units empty?)",
            numbers,
            {"weeks": len(weeks)},
            f"{_sql_path('kpi_business_units')}; {_sql_path('join_jobs_business_units')}",
        )
    else:
        presence = CheckResult(
            "kpi.presence",
            GREEN,
            f"all {expected_total} KPI rows present for {len(bu_roles)} BUs, {week_txt}",
            numbers,
            {"weeks": len(weeks)},
            "",
            0.0,
        )

    # ranges
    out_of_range: list[dict[str, Any]] = []
    for r in rows:
        bounds = config.kpi_ranges.get(r.kpi)
        if bounds is None or r.value is None:
            continue
        if _small_base(r, config):
            continue  # too small a base to judge (one job's week)
        lo, hi = bounds
        if (lo is not None and r.value < lo) or (hi is not None and r.value > hi):
            out_of_range.append(
                {"week": r.week_start.isoformat(), "bu": r.bu, "kpi": r.kpi, "value": r.value}
            )
    range_threshold: dict[str, Any] = {k: list(v) for k, v in config.kpi_ranges.items()}
    range_threshold["min_denominator"] = dict(config.kpi_range_min_denominator)
    if out_of_range:
        o = out_of_range[0]
        ranges = CheckResult(
            "kpi.ranges",
            RED,
            f"{len(out_of_range)} KPI values out of range (first: {o['kpi']}={o['value']:g} "
            f"for {o['bu']} week {o['week']})",
            {"out_of_range": out_of_range[:20], "count": len(out_of_range)},
            range_threshold,
            _explain(o["kpi"], o["bu"], dt.date.fromisoformat(o["week"])),
            float(len(out_of_range)),
        )
    else:
        ranges = CheckResult(
            "kpi.ranges",
            GREEN,
            f"{len(rows)} KPI values in range",
            {"count": 0, "checked": len(rows)},
            range_threshold,
            "",
            0.0,
        )

    # week-over-week jumps
    series: dict[tuple[str, str], dict[dt.date, KpiRow]] = defaultdict(dict)
    for r in rows:
        series[(r.bu, r.kpi)][r.week_start] = r
    jumps: list[dict[str, Any]] = []
    for (bu, kpi), by_week in sorted(series.items()):
        if bu in BUCKETS:
            continue
        values = {
            w: r.value
            for w, r in by_week.items()
            if w in weeks and r.value is not None and not _small_base(r, config)
        }
        for week, value in sorted(values.items()):
            others = [v for w, v in values.items() if w != week]
            if len(others) < config.kpi_jump_min_history:
                continue
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
        jump_result = CheckResult(
            "kpi.jumps",
            YELLOW,
            f"{len(jumps)} weeks outside their BU's usual range (first: {j['kpi']} for "
            f"{j['bu']} {j['value']:g} in week {j['week']}; other weeks "
            f"{j['usual_range'][0]:g}..{j['usual_range'][1]:g})",
            {"jumps": jumps[:20], "count": len(jumps)},
            jump_threshold,
            _explain(j["kpi"], j["bu"], dt.date.fromisoformat(j["week"])),
            float(len(jumps)),
        )
    else:
        jump_result = CheckResult(
            "kpi.jumps",
            GREEN,
            "no week outside its BU's usual range",
            {"count": 0},
            jump_threshold,
            "",
            0.0,
        )
    return [presence, ranges, jump_result]


def _small_base(row: KpiRow, config: ValidationConfig) -> bool:
    """A ratio over too small a denominator (a week of one job) is neither judged against
    its range nor as a jump: 0 -> 100% warranty is one warranty job."""
    floor = config.kpi_range_min_denominator.get(row.kpi)
    return floor is not None and row.denominator is not None and abs(row.denominator) < floor


def _jump(value: float, others: Sequence[float], kind: str, config: ValidationConfig) -> str | None:
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


def judge_rows(
    name: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    what: str,
    ok: str,
    threshold: Mapping[str, Any],
    next_step: str,
    status: Status = RED,
) -> CheckResult:
    """RED (or ``status``) when the query listed any offending row; the rows are the numbers."""
    clean = [{k: _jsonable(v) for k, v in row.items()} for row in rows]
    numbers = {"count": len(rows), "rows": clean[:20]}
    if rows:
        return CheckResult(
            name, status, f"{len(rows)} {what}", numbers, dict(threshold), next_step, len(rows)
        )
    return CheckResult(name, GREEN, ok, numbers, dict(threshold), "", 0.0)


def judge_dead_letters(counts: Mapping[str, int]) -> CheckResult:
    total = sum(counts.values())
    numbers = {"total": total, "by_topic": dict(counts)}
    if total:
        busy = ", ".join(f"{t}: {n}" for t, n in sorted(counts.items()) if n)
        return CheckResult(
            "pipeline.dead_letters",
            RED,
            f"{total} dead-lettered messages ({busy})",
            numbers,
            {"max": 0},
            "pull the <topic>-dead-sub subscriptions to read them (the function logs name "
            "the reason); fix, then re-plan: stkpi backfill --entities ... --start ... --end ...",
            float(total),
        )
    return CheckResult(
        "pipeline.dead_letters", GREEN, "no dead-lettered messages", numbers, {"max": 0}, "", 0.0
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


# -- measuring (BigQuery) ----------------------------------------------------------------


class Validator:
    """Runs the validation SQL for one project's datasets and judges the results."""

    def __init__(
        self,
        client: bigquery.Client,
        settings: Settings,
        *,
        now: dt.datetime,
        config: ValidationConfig,
    ) -> None:
        self.client = client
        self.settings = settings
        self.now = now
        self.config = config
        self.today = now.astimezone(settings.tz).date()

    def query(self, name: str, params: Mapping[str, str] | None = None, **extra: str) -> list[dict]:
        sql = sqlfiles.render(f"{VALIDATIONS}/{name}.sql", self.settings, **extra)
        job_config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter(k, "STRING", v) for k, v in (params or {}).items()
            ]
        )
        return [dict(r.items()) for r in self.client.query(sql, job_config=job_config).result()]

    def _guard(self, name: str, fn: Callable[[], list[CheckResult]]) -> list[CheckResult]:
        try:
            return fn()
        except Exception as exc:  # one broken check must not hide the others
            log.warning(
                "validation check failed to run",
                extra={log_contract.CHECK_NAME: name, "error": str(exc)},
            )
            return [
                CheckResult(
                    name,
                    RED,
                    f"check could not run: {type(exc).__name__}: {str(exc)[:300]}",
                    {},
                    {},
                    f"{_sql_path(name.split('.')[0])}*.sql; run it by hand to see the error",
                )
            ]

    # coverage / volume / freshness -----------------------------------------------------
    @staticmethod
    def date_column(entity: str) -> str:
        ent = get_entity(entity)
        names = {c.name for c in ent.columns}
        if "created_on" in names:
            return "created_on"
        if ent.partition_field:
            return ent.partition_field
        raise ValueError(f"{entity} has no date column to count by")

    def coverage(self) -> list[CheckResult]:
        current_month = self.today.replace(day=1)
        month_from = _add_months(current_month, -(self.config.coverage_months - 1))
        out = []
        for entity in self.config.coverage_entities:

            def one(entity: str = entity) -> list[CheckResult]:
                rows = self.query(
                    "coverage_monthly",
                    {"month_from": month_from.isoformat()},
                    table=entity,
                    date_column=self.date_column(entity),
                )
                months = {_as_date(r["month"]): int(r["row_count"]) for r in rows}
                return [
                    judge_coverage(
                        entity,
                        months,
                        current_month,
                        self.config,
                        required=entity in self.config.required_entities,
                    )
                ]

            out += self._guard(f"coverage.{entity}", one)
        return out

    def volume(self) -> list[CheckResult]:
        check_day = self.today - dt.timedelta(days=1)  # the latest complete day
        first_day = check_day - dt.timedelta(days=7 * self.config.volume_weeks)
        out = []
        for entity in self.config.volume_entities:

            def one(entity: str = entity) -> list[CheckResult]:
                rows = self.query(
                    "volume_daily",
                    {"first_day": first_day.isoformat(), "check_day": check_day.isoformat()},
                    table=entity,
                    date_column=self.date_column(entity),
                )
                counts = {_as_date(r["day"]): int(r["row_count"]) for r in rows}
                return [judge_volume(entity, check_day, counts, self.config)]

            out += self._guard(f"volume.{entity}", one)
        return out

    def freshness(self) -> list[CheckResult]:
        syncs: dict[str, dict] = {}

        def load_syncs() -> list[CheckResult]:
            syncs.update({r["entity"]: r for r in self.query("freshness_sync")})
            return []

        out = self._guard("freshness.sync_state", load_syncs)
        for entity in self.config.freshness_entities:

            def one(entity: str = entity) -> list[CheckResult]:
                totals = self.query("entity_totals", table=entity)[0]
                sync = syncs.get(entity, {})
                history = None
                if entity in self.config.data_freshness_entities and totals["newest_modified"]:
                    history = self.freshness_history(entity)
                return [
                    judge_freshness(
                        entity,
                        now=self.now,
                        row_count=int(totals["row_count"] or 0),
                        newest_modified=totals["newest_modified"],
                        last_sync=sync.get("last_sync"),
                        config=self.config,
                        history=history,
                    )
                ]

            out += self._guard(f"freshness.{entity}", one)
        return out

    def freshness_history(self, entity: str) -> FreshnessHistory:
        """The entity's change gaps over the weeks before its newest record
        (``freshness_gaps.sql``)."""
        weeks = self.config.freshness_history_weeks
        rows = self.query(
            "freshness_gaps", table=entity, hours=str(weeks * 168), min_gap_hours="1.0"
        )
        records = next((int(r["records"] or 0) for r in rows if r["is_total"]), 0)
        gaps = [float(r["gap_hours"]) for r in rows if not r["is_total"]]
        return FreshnessHistory(weeks, records, gaps)

    # joins -----------------------------------------------------------------------------
    def joins(self) -> list[CheckResult]:
        out = []
        for join in (
            "invoices_jobs",
            "payments_invoices",
            "estimates_jobs",
            "appointments_jobs",
            "gross_pay_items_jobs",
        ):

            def one(join: str = join) -> list[CheckResult]:
                row = self.query(f"join_{join}")[0]
                total, linked = int(row.pop("total") or 0), int(row.pop("linked") or 0)
                return [
                    judge_join(
                        join,
                        total=total,
                        linked=linked,
                        config=self.config,
                        extra={k: _jsonable(v) for k, v in row.items()},
                        next_step=_sql_path(f"join_{join}"),
                    )
                ]

            out += self._guard(f"join.{join}", one)
        out += self._guard("join.jobs_business_units", self.jobs_business_units)
        return out

    def jobs_business_units(self) -> list[CheckResult]:
        names = [r.bu_name.lower() for r in load_bu_map()]
        rows = self.query(
            "join_jobs_business_units",
            bu_map_names=", ".join(sql_string(n) for n in names) or "NULL",
        )
        total = next((int(r["jobs"]) for r in rows if r["is_total"]), 0)
        unmapped = [r for r in rows if not r["is_total"]]
        listed = [
            {
                "business_unit_id": r["business_unit_id"],
                "bu_name": r["bu_name"] or f"<id {r['business_unit_id']} not in business_units>",
                "jobs": int(r["jobs"]),
            }
            for r in unmapped
        ]
        n_unmapped = sum(u["jobs"] for u in listed)
        result = judge_join(
            "jobs_business_units",
            total=total,
            linked=total - n_unmapped,
            config=self.config,
            extra={"unmapped_bus": listed},
            next_step=f"add the BUs to sql/seeds/bu_map.csv; {_sql_path('join_jobs_business_units')}",
        )
        if listed:
            named = ", ".join(f"{u['bu_name']} ({u['jobs']} jobs)" for u in listed[:5])
            result = CheckResult(
                result.name,
                result.status,
                f"{result.message}; unmapped BUs: {named}",
                result.numbers,
                result.threshold,
                result.next_step,
                result.value,
            )
        return [result]

    # KPIs ------------------------------------------------------------------------------
    def kpis(self) -> list[CheckResult]:
        weeks = kpi_weeks(self.today, self.config.kpi_weeks)
        try:
            raw_rows = self.query(
                "kpi_weekly_recent",
                {"week_from": weeks[0].isoformat(), "week_to": weeks[-1].isoformat()},
            )
        except NotFound as exc:
            return [
                CheckResult(
                    "kpi.presence",
                    RED,
                    f"KPI marts missing: {self.settings.dataset('mart')}.kpi_weekly not found",
                    {"error": str(exc)[:300]},
                    {},
                    "rebuild the marts (rebuild_dims runs stkpi.marts.build_marts); "
                    "sql/marts/kpi_weekly.sql",
                )
            ]
        rows = [
            KpiRow(
                week_start=_as_date(r["week_start"]),
                bu=r["bu"],
                kpi=r["kpi"],
                kind=r.get("kind"),
                value=None if r["value"] is None else float(r["value"]),
                denominator=None if r.get("denominator") is None else float(r["denominator"]),
            )
            for r in raw_rows
        ]
        try:
            bu_roles = {r["bu"]: r["role"] for r in self.query("kpi_business_units")}
        except NotFound:
            bu_roles = _roles_from_rows(rows, self.config)
        return judge_kpis(rows, bu_roles, weeks, self.config)

    # pipeline --------------------------------------------------------------------------
    def pipeline(self, dead_letters: DeadLetterCounter | None) -> list[CheckResult]:
        cfg = self.config
        since = _ts(self.now - dt.timedelta(hours=cfg.pipeline_lookback_hours))
        lookback = {"lookback_hours": cfg.pipeline_lookback_hours}
        out = self._guard(
            "pipeline.failed_windows",
            lambda: [
                judge_rows(
                    "pipeline.failed_windows",
                    self.query("pipeline_failed_windows", {"since": since}),
                    what="windows failed or dead-lettered",
                    ok="no failed windows",
                    threshold={**lookback, "max": 0},
                    next_step=f"stkpi status; {_sql_path('pipeline_failed_windows')} "
                    "(the error column); re-plan: stkpi backfill --entities ... --start ... --end ...",
                )
            ],
        )
        stuck_before = _ts(self.now - dt.timedelta(hours=cfg.stuck_window_hours))
        out += self._guard(
            "pipeline.stuck_windows",
            lambda: [
                judge_rows(
                    "pipeline.stuck_windows",
                    self.query(
                        "pipeline_stuck_windows", {"since": since, "stuck_before": stuck_before}
                    ),
                    what=f"windows stuck (no progress for {cfg.stuck_window_hours:g} h)",
                    ok="no stuck windows",
                    threshold={**lookback, "stuck_hours": cfg.stuck_window_hours},
                    next_step=f"stkpi status; {_sql_path('pipeline_stuck_windows')}; "
                    "look for the window's function logs (run_id, window_id)",
                )
            ],
        )
        planned_before = _ts(self.now - dt.timedelta(hours=cfg.rebuild_grace_hours))
        out += self._guard(
            "pipeline.runs_without_rebuild",
            lambda: [
                judge_rows(
                    "pipeline.runs_without_rebuild",
                    self.query(
                        "pipeline_runs_without_rebuild",
                        {"since": since, "planned_before": planned_before},
                    ),
                    what="runs without exactly one rebuild",
                    ok="every run rebuilt once",
                    threshold={**lookback, "grace_hours": cfg.rebuild_grace_hours},
                    next_step=f"stkpi status; {_sql_path('pipeline_runs_without_rebuild')}; "
                    "a run whose windows all loaded but never rebuilt needs its rebuild "
                    "message re-published",
                )
            ],
        )
        if dead_letters is not None:
            out += self._guard(
                "pipeline.dead_letters", lambda: [judge_dead_letters(dead_letters())]
            )
        return out

    # reconciliation with ServiceTitan's reports -------------------------------------------
    def reconciliation(self) -> list[CheckResult]:
        from stkpi.reconcile.judge import NAME, judge_reconciliation

        def check() -> list[CheckResult]:
            try:
                rows = self.query("reconciliation_latest")
            except NotFound:  # datasets from before the table existed
                rows = []
            return [judge_reconciliation(rows, self.config)]

        return self._guard(NAME, check)


def _roles_from_rows(rows: Sequence[KpiRow], config: ValidationConfig) -> dict[str, str]:
    roles: dict[str, str] = {}
    for r in rows:
        if r.bu in BUCKETS:
            continue
        if r.kpi in config.sales_kpis:
            roles.setdefault(r.bu, "Sales")
        elif r.kpi in config.production_kpis:
            roles.setdefault(r.bu, "Production")
    return roles


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S+00")


# -- entry points ------------------------------------------------------------------------


def run_validations(
    client: bigquery.Client,
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    config: ValidationConfig | None = None,
    run_id: str = "adhoc",
    store: bool = True,
    dead_letters: DeadLetterCounter | None = None,
) -> list[CheckResult]:
    """Run every check, log one line per check (:mod:`stkpi.log_contract`: the alerts
    count them) and store the results in ``${ops}.validation_results`` when ``store``.

    ``dead_letters``: a callable returning dead-lettered message counts per topic (the CLI
    passes one for the local stack); without it the dead-letter check is left out.
    """
    from stkpi.validate_deletes import deletes_checks

    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    v = Validator(client, settings, now=now, config=config or ValidationConfig())
    results = [
        *v.freshness(),
        *v.volume(),
        *v.coverage(),
        *v.joins(),
        *v.kpis(),
        *v.reconciliation(),
        *v.pipeline(dead_letters),
        *deletes_checks(v),
    ]
    # Logged before storing: a failing insert must not silence the alerts.
    log_contract.log_validations(results, run_id=run_id)
    if store:
        store_results(client, settings, results, run_id=run_id, checked_at=now)
    return results


def result_rows(
    results: Sequence[CheckResult], *, run_id: str, checked_at: dt.datetime
) -> list[dict[str, Any]]:
    stamp = checked_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return [
        {
            "run_id": run_id,
            "checked_at": stamp,
            "check_name": r.name,
            "category": r.category,
            "subject": r.subject,
            "status": r.status,
            "value": r.value,
            "numbers": json.dumps(r.numbers, default=str, sort_keys=True),
            "threshold": json.dumps(r.threshold, default=str, sort_keys=True),
            "message": r.message,
            "next_step": r.next_step or None,
        }
        for r in results
    ]


def store_results(
    client: bigquery.Client,
    settings: Settings,
    results: Sequence[CheckResult],
    *,
    run_id: str,
    checked_at: dt.datetime,
) -> None:
    table = f"{settings.gcp_project}.{settings.dataset('ops')}.validation_results"
    rows = result_rows(results, run_id=run_id, checked_at=checked_at)
    if rows:
        errors = client.insert_rows_json(table, rows)
        if errors:
            raise RuntimeError(f"insert into validation_results failed: {errors[:3]}")
