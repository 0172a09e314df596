"""``freshness.<entity>``: is the last sync recent, and is the data as new as the entity
usually is? Pure: the rows come from ``ops/raw_table_stats``, ``freshness_sync``,
``freshness_gaps`` and ``freshness_hourly`` (stkpi.validation.measures)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from stkpi.validation.config import ValidationConfig
from stkpi.validation.fmt import sql_path
from stkpi.validation.result import GREEN, RED, CheckResult
from stkpi.validation.stats import expected_changes, usual_silence_hours


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
    ``records``: versions in the ``weeks`` weeks before the newest; ``hourly``: those
    versions per hour of the week (168 counts, epoch hour mod 168), None when not measured.
    """

    weeks: int
    records: int
    gaps_hours: Sequence[float]
    hourly: Sequence[int] | None = None

    def silence_chance(self, start: dt.datetime, end: dt.datetime) -> tuple[float, float] | None:
        """(changes usually seen from ``start`` to ``end``, the probability of none at all
        for a Poisson count with that mean), or None without an hourly profile."""
        if self.hourly is None:
            return None
        expected = expected_changes(self.hourly, self.weeks, start, end)
        return round(expected, 2), math.exp(-expected)


def judge_freshness(
    entity: str,
    *,
    now: dt.datetime,
    row_count: int,
    newest_modified: dt.datetime | None,
    last_sync: dt.datetime | None,
    config: ValidationConfig,
    history: FreshnessHistory | None = None,
    sync_now: dt.datetime | None = None,
) -> CheckResult:
    """A sync older than the limit is RED; so is data older than the entity usually goes
    without a change (``history``), never less than the configured limit.

    A small tenant's estimates may see no change for two days; a large tenant's jobs see
    one every minute. One fixed limit is either blind for the second or RED every weekend
    for the first, so the data-age limit is max(``freshness_max_hours``,
    ``freshness_gap_factor`` x :func:`usual_silence_hours` of the weeks before the newest
    record). The history ends at the newest record, not now, so an entity that stopped
    weeks ago is judged by how it behaved while it was arriving.

    Past that limit, the silence must also be beyond chance (``history.hourly``): the
    hours from the newest record to the last sync would usually have brought some changes,
    and none at all has under ``freshness_p`` probability. A tenant with twenty payments
    a week can go from Friday 1 am to Monday with none; one with two thousand cannot go
    an afternoon.

    ``now`` is the tenant's present (how old the data is); ``sync_now`` (default ``now``)
    the machine's, on which syncs are stamped (how long ago the last one ran).
    """
    name = f"freshness.{entity}"
    floor = config.freshness_max_hours
    sync_age = _age_hours(sync_now or now, last_sync)
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
        "p": config.freshness_p,
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
    chance = None
    if check_data:
        if newest_modified is None:
            problems.append("no rows")
        elif not sparse and data_age is not None and data_age > data_limit:
            horizon = min(now, last_sync) if last_sync is not None else now
            chance = history.silence_chance(newest_modified, horizon) if history else None
            numbers["expected_changes_in_silence"] = chance[0] if chance else None
            numbers["p_silence"] = chance[1] if chance else None
            if chance is None or chance[1] < config.freshness_p:
                why = (
                    f"usual silence {usual:g} h x {config.freshness_gap_factor:g}" if usual else ""
                )
                odds = f"; {chance[0]:g} changes usual by now" if chance else ""
                problems.append(
                    f"newest modifiedOn {data_age:.1f} h old (limit {data_limit:g} h"
                    + (f"; {why}" if why and data_limit > floor else "")
                    + odds
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
        if chance is not None and chance[1] >= config.freshness_p:
            parts.append(
                f"a silence within chance ({chance[0]:g} changes usual in it, "
                f"P(none) {chance[1]:.2g})"
            )
    summary = f"{entity}: " + ", ".join(parts)
    if problems:
        return CheckResult(
            name,
            RED,
            f"{entity}: " + "; ".join(problems),
            numbers,
            threshold,
            "stkpi status (did the daily run plan, load and rebuild?); "
            f"{sql_path('freshness_sync')}; sql/ops/raw_table_stats.sql (entity={entity})",
            max(a for a in (sync_age, data_age) if a is not None)
            if (sync_age is not None or data_age is not None)
            else None,
        )
    return CheckResult(name, GREEN, summary, numbers, threshold, "", sync_age)


def _fmt_hours(h: float | None) -> str:
    return "never" if h is None else f"{h:.1f} h"
