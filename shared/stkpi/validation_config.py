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

# Plausible value ranges per KPI (fractions for ratios); None = unbounded on that side.
DEFAULT_KPI_RANGES: dict[str, tuple[float | None, float | None]] = {
    "gpm": (-0.5, 0.9),
    "success_rate": (0.0, 1.0),
    "warranty_pct": (0.0, 1.0),
    "outstanding_ar": (0.0, None),
    "leads": (0.0, None),
    "estimates": (0.0, None),
    "estimates_scheduled": (0.0, None),
    "total_booked": (0.0, None),
    "future_bookings": (0.0, None),
}

SALES_KPIS: tuple[str, ...] = (
    "leads",
    "estimates",
    "total_booked",
    "success_rate",
    "estimates_scheduled",
)
PRODUCTION_KPIS: tuple[str, ...] = (
    "produced",
    "gpm",
    "future_bookings",
    "collected",
    "warranty_pct",
    "outstanding_ar",
)

CORE_ENTITIES: tuple[str, ...] = ("jobs", "appointments", "invoices", "estimates", "payments")


@dataclass(frozen=True)
class ValidationConfig:
    """Thresholds and scopes of every check (see the module docstring for overrides)."""

    # Freshness: last successful sync (all synced transactional entities) and newest
    # modifiedOn (entities that change every day) older than this is RED.
    freshness_max_hours: float = 25.0
    freshness_entities: tuple[str, ...] = TRANSACTIONAL
    data_freshness_entities: tuple[str, ...] = CORE_ENTITIES
    # Entities that must have rows and syncs; other entities are checked only once ingested.
    required_entities: tuple[str, ...] = CORE_ENTITIES
    # Volume: the latest complete day under `volume_drop_ratio` x the median of the same
    # weekday over the `volume_weeks` weeks before it is RED.
    volume_entities: tuple[str, ...] = CORE_ENTITIES
    volume_drop_ratio: float = 0.5
    volume_weeks: int = 4
    # Coverage: monthly row counts over `coverage_months`; a complete month that falls
    # under (1 - coverage_drop) x the month before it, or a month with no rows, is YELLOW.
    coverage_entities: tuple[str, ...] = TRANSACTIONAL
    coverage_months: int = 13
    coverage_drop: float = 0.5
    joins: Mapping[str, JoinThreshold] = field(default_factory=lambda: dict(DEFAULT_JOINS))
    # KPIs: the last `kpi_weeks` complete weeks per BU.
    kpi_weeks: int = 12
    kpi_ranges: Mapping[str, tuple[float | None, float | None]] = field(
        default_factory=lambda: dict(DEFAULT_KPI_RANGES)
    )
    sales_kpis: tuple[str, ...] = SALES_KPIS
    production_kpis: tuple[str, ...] = PRODUCTION_KPIS
    # Week-over-week: a count or money KPI that moves by more than this factor (up or down)
    # from a previous week of at least the minimum base is YELLOW; a ratio KPI is YELLOW
    # when it moves by more than `kpi_jump_ratio_abs` (absolute, 0.5 = 50 points).
    kpi_jump_factor: float = 3.0
    kpi_jump_min_base: Mapping[str, float] = field(
        default_factory=lambda: {"count": 10.0, "money": 1000.0}
    )
    kpi_jump_ratio_abs: float = 0.5
    # Pipeline health: look back this far; a window idle longer than `stuck_window_hours`
    # without being loaded is stuck; a run not rebuilt `rebuild_grace_hours` after its plan
    # is a run without a rebuild.
    pipeline_lookback_hours: float = 48.0
    stuck_window_hours: float = 2.0
    rebuild_grace_hours: float = 3.0

    def __post_init__(self) -> None:
        problems = []
        if self.freshness_max_hours <= 0:
            problems.append("freshness_max_hours must be > 0")
        if not 0 < self.volume_drop_ratio <= 1:
            problems.append("volume_drop_ratio must be in (0, 1]")
        if self.volume_weeks < 1:
            problems.append("volume_weeks must be >= 1")
        if self.coverage_months < 2:
            problems.append("coverage_months must be >= 2")
        if not 0 < self.coverage_drop <= 1:
            problems.append("coverage_drop must be in (0, 1]")
        if self.kpi_weeks < 2:
            problems.append("kpi_weeks must be >= 2")
        if self.kpi_jump_factor <= 1:
            problems.append("kpi_jump_factor must be > 1")
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
