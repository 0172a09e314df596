"""Validation thresholds as configuration data, with the defaults the owner agreed to.

Every number a check compares against lives here, not in the SQL or in the check code, so
tuning a threshold is a configuration change. :func:`load_validation_config` reads
overrides from a JSON file (``--config`` or ``STKPI_VALIDATION_CONFIG``); keys are the
field names below, join thresholds are keyed by join name::

    {"freshness_max_hours": 30, "joins": {"invoices_jobs": {"red_below": 0.85}}}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from stkpi import kpis
from stkpi.errors import ConfigError
from stkpi.registry import TRANSACTIONAL


@dataclass(frozen=True)
class JoinThreshold:
    """A link rate below ``red_below`` is RED; below ``target`` is YELLOW; else GREEN."""

    red_below: float
    target: float

    def __post_init__(self) -> None:
        if not 0 <= self.red_below <= self.target <= 1:
            raise ConfigError(
                f"join thresholds need 0 <= red_below <= target <= 1; "
                f"got red_below={self.red_below}, target={self.target}"
            )


DEFAULT_JOINS: dict[str, JoinThreshold] = {
    "invoices_jobs": JoinThreshold(red_below=0.90, target=0.99),
    "payments_invoices": JoinThreshold(red_below=0.95, target=0.99),
    "estimates_jobs": JoinThreshold(red_below=0.95, target=0.99),
    "appointments_jobs": JoinThreshold(red_below=0.95, target=0.99),
    "gross_pay_items_jobs": JoinThreshold(red_below=0.90, target=0.98),
    "jobs_business_units": JoinThreshold(red_below=1.0, target=1.0),
}

# From the KPI registry (stkpi.kpis). Denominators under which a BU-week's ratio is too
# small a base to judge (range or jump): dollars produced for the margin, completed jobs
# for the warranty share, opportunities for the success rate.
DEFAULT_RANGE_MIN_DENOMINATOR: dict[str, float] = {
    k.name: k.min_denominator for k in kpis.KPIS if k.min_denominator is not None
}

# Plausible value ranges per KPI (fractions for ratios); None = unbounded on that side.
DEFAULT_KPI_RANGES: dict[str, tuple[float | None, float | None]] = {
    k.name: k.valid_range for k in kpis.KPIS if k.valid_range is not None
}

# KPIs that read too high until their late costs (payroll) are in.
DEFAULT_LATE_COST_KPIS: tuple[str, ...] = tuple(k.name for k in kpis.KPIS if k.late_costs)

SALES_KPIS: tuple[str, ...] = kpis.names(role="Sales")
PRODUCTION_KPIS: tuple[str, ...] = kpis.names(role="Production")

CORE_ENTITIES: tuple[str, ...] = ("jobs", "appointments", "invoices", "estimates", "payments")


@dataclass(frozen=True)
class ValidationConfig:
    """Thresholds and scopes of every check (see the module docstring for overrides)."""

    # Freshness: the last successful sync (all synced transactional entities) older than
    # `freshness_max_hours` is RED (the sync is daily whatever the tenant's size). The
    # newest modifiedOn (entities in `data_freshness_entities`) is judged against the
    # entity's own history: RED when older than max(`freshness_max_hours`,
    # `freshness_gap_factor` x the silence the entity exceeded only 5% of the time over
    # the `freshness_history_weeks` weeks before its newest record). A sparse entity of a
    # small tenant (under `freshness_min_records` records in those weeks) is too sparse to
    # tell a stop from a lull: only its sync is judged. Data older than that limit is RED
    # only when a silence that long is beyond chance: the hours since the newest record
    # would usually have brought enough changes (by the entity's changes per hour of the
    # week in those weeks) that none at all has under `freshness_p` probability. A small
    # tenant's payments may stop on a Friday morning and resume on Monday; a busy
    # tenant's jobs cannot go quiet for a working afternoon.
    freshness_max_hours: float = 25.0
    freshness_entities: tuple[str, ...] = TRANSACTIONAL
    data_freshness_entities: tuple[str, ...] = CORE_ENTITIES
    freshness_history_weeks: int = 4
    freshness_gap_factor: float = 1.5
    freshness_min_records: int = 10
    freshness_p: float = 0.001
    # Entities that must have rows and syncs; other entities are checked only once ingested.
    required_entities: tuple[str, ...] = CORE_ENTITIES
    # Volume: the latest complete day vs the median of the same weekday over the
    # `volume_weeks` weeks before it. Under `volume_min_base` records a day the entity is
    # too small to judge by day. Below `volume_drop_ratio` x the median the day is low;
    # it is RED when a count that low has under `volume_p_red` probability for a Poisson
    # count with that median (YELLOW under `volume_p_yellow`), so 1 instead of 3 is noise
    # while 10 instead of 100 is a collapse.
    volume_entities: tuple[str, ...] = CORE_ENTITIES
    volume_drop_ratio: float = 0.5
    volume_weeks: int = 4
    volume_min_base: float = 5.0
    volume_p_red: float = 0.001
    volume_p_yellow: float = 0.01
    # Coverage: monthly row counts over `coverage_months`; a complete month under
    # (1 - coverage_drop) x the median of the `coverage_baseline_months` months before it,
    # holding so small a share of its and those months' records that chance gives it a
    # probability under `coverage_p` (a month with no rows included; stats.share_cdf), is
    # YELLOW. Baselines under `coverage_min_base` rows a month are not judged.
    coverage_entities: tuple[str, ...] = TRANSACTIONAL
    coverage_months: int = 13
    coverage_drop: float = 0.5
    coverage_baseline_months: int = 6
    coverage_min_baseline_months: int = 2  # months judged need at least this many before
    coverage_min_base: float = 5.0
    coverage_p: float = 0.001
    # An entity counted by a date other than its creation (payroll items by the day
    # worked) gets rows for a month after the month ends: its month is judged only once
    # `coverage_settle_days` have passed since (a pay period and the payroll run after it).
    coverage_settle_days: int = 14
    joins: Mapping[str, JoinThreshold] = field(default_factory=lambda: dict(DEFAULT_JOINS))
    # A link rate under its target is YELLOW only when the unlinked count is beyond chance:
    # under `join_p` probability for a Poisson count with the mean the target allows. 17
    # unlinked of 1,699 invoices (98.99%) is what a 99% target allows (17.0); 15 of 528
    # (5.3 allowed) is not. RED (below `red_below`) needs no test.
    join_p: float = 0.01
    # KPIs: the last `kpi_weeks` complete weeks per BU.
    kpi_weeks: int = 12
    kpi_ranges: Mapping[str, tuple[float | None, float | None]] = field(
        default_factory=lambda: dict(DEFAULT_KPI_RANGES)
    )
    # A ratio KPI whose denominator is below this is not judged (range or jump): a BU-week
    # with one small invoice and a crew's full week of labour is not an error.
    kpi_range_min_denominator: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_RANGE_MIN_DENOMINATOR)
    )
    # A KPI that subtracts costs recorded after the work (`kpi_late_cost_kpis`: GPM's labor)
    # reads too high in a week whose Sunday is under `kpi_settle_days` ago: such a week is
    # judged against its range and its BU's weeks only from below until it has settled.
    kpi_late_cost_kpis: tuple[str, ...] = DEFAULT_LATE_COST_KPIS
    kpi_settle_days: int = 14
    sales_kpis: tuple[str, ...] = SALES_KPIS
    production_kpis: tuple[str, ...] = PRODUCTION_KPIS
    # Jumps of flows (a balance, A/R or Future Bookings, moves by flows judged here
    # themselves), judged against the BU's own weeks: a count or money KPI above
    # `kpi_jump_factor` x the highest or below the lowest / `kpi_jump_factor` of the
    # weeks before it in the window (at least `kpi_jump_min_history` of them), when the
    # value or the median of those weeks reaches the minimum base, is YELLOW; a ratio
    # KPI is YELLOW beyond those weeks' range by more than `kpi_jump_ratio_abs` (0.5 = 50
    # points). Money and counts are judged only when those weeks are steady (the highest
    # within `kpi_jump_factor` x the lowest): a small BU whose weeks swing between 0 and
    # $1,300, or $763 and $7,019, swings; a 4x week there is one big job, not a jump.
    kpi_jump_factor: float = 3.0
    kpi_jump_min_base: Mapping[str, float] = field(
        default_factory=lambda: {"count": 10.0, "money": 1000.0}
    )
    kpi_jump_min_history: int = 3
    kpi_jump_ratio_abs: float = 0.5
    # Pipeline health: look back this far; a window idle longer than `stuck_window_hours`
    # without being loaded is stuck; a run not rebuilt `rebuild_grace_hours` after its plan
    # is a run without a rebuild.
    pipeline_lookback_hours: float = 48.0
    stuck_window_hours: float = 2.0
    rebuild_grace_hours: float = 3.0
    # Reconciliation with ServiceTitan's reports (the latest pass in ops.reconciliation):
    # explained differences are YELLOW, except those explained only by rules that are
    # ServiceTitan's own report definitions differing from KPIS.md (rules starting with one
    # of `reconcile_expected_rules`): they come every week by design and stay GREEN, with
    # their count in the message, so the stoplight keeps meaning "look at this" (an invoice
    # without a job is judged by join.invoices_jobs). An unmapped BU is something to fix
    # in the BU map: YELLOW. Set the list
    # to [] to see every explained difference YELLOW. An unexplained difference is RED
    # when |ours - theirs| is at least `reconcile_red_min_abs` (a lead, a dollar) and
    # `reconcile_red_min_pct` of ServiceTitan's value, else YELLOW.
    reconcile_red_min_abs: float = 1.0
    reconcile_red_min_pct: float = 0.005
    reconcile_expected_rules: tuple[str, ...] = (
        "test customer",
        "customer already counted this week",
        "date basis",
        "job not Completed",
        "job has no completion date",
        "invoice without a job link",  # also judged by join.invoices_jobs
        "Sales BU: not a",
        "Production BU: not a",
    )

    def __post_init__(self) -> None:
        problems = []
        if self.freshness_max_hours <= 0:
            problems.append("freshness_max_hours must be > 0")
        if not 0 < self.volume_drop_ratio <= 1:
            problems.append("volume_drop_ratio must be in (0, 1]")
        if self.volume_weeks < 1:
            problems.append("volume_weeks must be >= 1")
        if not 0 < self.volume_p_red <= self.volume_p_yellow < 1:
            problems.append("volume p-values need 0 < volume_p_red <= volume_p_yellow < 1")
        if not 0 < self.coverage_p < 1:
            problems.append("coverage_p must be in (0, 1)")
        if not 0 < self.freshness_p < 1:
            problems.append("freshness_p must be in (0, 1)")
        if not 0 < self.join_p < 1:
            problems.append("join_p must be in (0, 1)")
        if self.coverage_baseline_months < 1:
            problems.append("coverage_baseline_months must be >= 1")
        if not 1 <= self.coverage_min_baseline_months <= self.coverage_baseline_months:
            problems.append("coverage_min_baseline_months must be in 1..coverage_baseline_months")
        if self.freshness_history_weeks < 1:
            problems.append("freshness_history_weeks must be >= 1")
        if self.freshness_gap_factor < 1:
            problems.append("freshness_gap_factor must be >= 1")
        if self.kpi_jump_min_history < 1:
            problems.append("kpi_jump_min_history must be >= 1")
        if self.coverage_months < 2:
            problems.append("coverage_months must be >= 2")
        if not 0 < self.coverage_drop <= 1:
            problems.append("coverage_drop must be in (0, 1]")
        if self.kpi_settle_days < 0:
            problems.append("kpi_settle_days must be >= 0")
        if self.kpi_weeks < 2:
            problems.append("kpi_weeks must be >= 2")
        if self.kpi_jump_factor <= 1:
            problems.append("kpi_jump_factor must be > 1")
        if self.reconcile_red_min_abs < 0 or self.reconcile_red_min_pct < 0:
            problems.append("reconcile_red_min_abs and reconcile_red_min_pct must be >= 0")
        unknown = sorted(set(self.joins) - set(DEFAULT_JOINS))
        if unknown:
            problems.append(f"unknown joins {unknown}; known: {sorted(DEFAULT_JOINS)}")
        if problems:
            raise ConfigError("invalid validation config: " + "; ".join(problems))

    def join(self, name: str) -> JoinThreshold:
        return self.joins.get(name, DEFAULT_JOINS[name])


def config_from_mapping(data: Mapping[str, Any]) -> ValidationConfig:
    """Defaults overridden by ``data`` (JSON-shaped: lists for tuples, dicts for joins)."""
    known = {f.name for f in fields(ValidationConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown validation settings {unknown}; known: {sorted(known)}")
    base = ValidationConfig()
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key == "joins":
            joins = dict(base.joins)
            for name, spec in value.items():
                if name not in DEFAULT_JOINS:
                    raise ConfigError(f"unknown join {name!r}; known: {sorted(DEFAULT_JOINS)}")
                current = joins[name]
                joins[name] = JoinThreshold(
                    red_below=float(spec.get("red_below", current.red_below)),
                    target=float(spec.get("target", current.target)),
                )
            changes[key] = joins
        elif key == "kpi_ranges":
            ranges = dict(base.kpi_ranges)
            for kpi, bounds in value.items():
                lo, hi = bounds
                ranges[kpi] = (
                    None if lo is None else float(lo),
                    None if hi is None else float(hi),
                )
            changes[key] = ranges
        elif key == "kpi_jump_min_base":
            changes[key] = {**base.kpi_jump_min_base, **{k: float(v) for k, v in value.items()}}
        elif isinstance(value, list):
            changes[key] = tuple(value)
        else:
            changes[key] = value
    return replace(base, **changes)


def load_validation_config(path: Path | str | None = None) -> ValidationConfig:
    """Read overrides from ``path`` (or ``STKPI_VALIDATION_CONFIG``); defaults otherwise."""
    path = path or os.environ.get("STKPI_VALIDATION_CONFIG")
    if not path:
        return ValidationConfig()
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read validation config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"validation config {path} must be a JSON object")
    return config_from_mapping(data)
