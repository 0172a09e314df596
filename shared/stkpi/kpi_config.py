"""KPI configuration as data: report time zone, weeks, job-type patterns and the BU map.

The marts read these values from seed tables (``st_dim.seed_*``) that ``stkpi.marts``
writes from a :class:`KpiConfig`, so every rule the SQL applies is visible in BigQuery next
to the numbers it produced. The BU map is ``sql/seeds/bu_map.csv`` (columns ``bu_name,
normalized_name, role, region``); editing that file re-maps BUs without code changes.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from stkpi.config import WEEKDAYS, Settings
from stkpi.errors import ConfigError
from stkpi.sqlfiles import sql_dir

ROLES = ("Sales", "Production")
# ST's weekly reports run Monday..Sunday; a tenant may start its weeks on another day
# (the registry's ``weeks_start``, ``Settings.weeks_start``).
WEEK_START = "monday"


def week_of(day: dt.date, week_start: str = WEEK_START) -> dt.date:
    """The first day of ``day``'s week when weeks start on ``week_start`` (a WEEKDAYS name):
    what ``dim_weeks`` computes in SQL, for the CLI and the report."""
    return day - dt.timedelta(days=(day.weekday() - WEEKDAYS.index(week_start)) % 7)


def bigquery_dayofweek(week_start: str) -> int:
    """BigQuery's ``EXTRACT(DAYOFWEEK ...)`` number of a WEEKDAYS name (Sunday = 1,
    Monday = 2, ... Saturday = 7): the form ``dim_weeks`` does its week maths in."""
    return (WEEKDAYS.index(week_start) + 1) % 7 + 1


@dataclass(frozen=True)
class BuMapRow:
    """One business unit of the map: ST name -> reporting name, role, region rollup."""

    bu_name: str
    normalized_name: str
    role: str
    region: str


@dataclass(frozen=True)
class KpiConfig:
    """Everything the KPI SQL is parameterised with."""

    report_timezone: str = "America/Phoenix"
    week_start: str = WEEK_START
    estimate_job_type_patterns: tuple[str, ...] = ("estimate",)
    warranty_job_type_patterns: tuple[str, ...] = ("warranty",)
    test_customer_pattern: str = "test"
    bu_map: tuple[BuMapRow, ...] = field(default_factory=tuple)
    week_from: dt.date | None = None  # None: the earliest week with data
    week_to: dt.date | None = None  # None: the latest week with data
    include_materials: bool | None = None  # None: auto (any purchasing record ingested)
    # Whether GPM's materials keep the tax of bills, orders and returns: ServiceTitan's
    # costing setting "Tax Expenses In Costing", on by default (docs/KPI_RULES.md).
    materials_include_tax: bool = True

    def __post_init__(self) -> None:
        if self.week_start not in WEEKDAYS:
            raise ConfigError(
                f"weeks start on one of {', '.join(WEEKDAYS)}; got {self.week_start!r}"
            )
        for d in (self.week_from, self.week_to):
            if d is not None and week_of(d, self.week_start) != d:
                raise ConfigError(
                    f"week range bounds must be {self.week_start.title()}s (the week's "
                    f"first day); {d} is a {d:%A}"
                )
        if self.week_from and self.week_to and self.week_from > self.week_to:
            raise ConfigError(f"week_from {self.week_from} is after week_to {self.week_to}")
        if not self.estimate_job_type_patterns:
            raise ConfigError("at least one estimate job-type pattern is required")


def default_bu_map_path() -> Path:
    return sql_dir() / "seeds" / "bu_map.csv"


def load_bu_map(path: Path | None = None) -> tuple[BuMapRow, ...]:
    """Read the BU map CSV; a malformed row is a ConfigError naming the line."""
    path = path or default_bu_map_path()
    rows: list[BuMapRow] = []
    seen: set[str] = set()
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        expected = {"bu_name", "normalized_name", "role", "region"}
        if set(reader.fieldnames or ()) != expected:
            raise ConfigError(f"{path}: columns must be {sorted(expected)}")
        for lineno, rec in enumerate(reader, start=2):
            row = BuMapRow(**{k: (rec[k] or "").strip() for k in expected})
            if not row.bu_name or not row.normalized_name or not row.region:
                raise ConfigError(f"{path}:{lineno}: empty field in {rec}")
            if row.role not in ROLES:
                raise ConfigError(f"{path}:{lineno}: role must be one of {ROLES}: {row.role!r}")
            if row.bu_name.lower() in seen:
                raise ConfigError(f"{path}:{lineno}: duplicate bu_name {row.bu_name!r}")
            seen.add(row.bu_name.lower())
            rows.append(row)
    return tuple(rows)


def load_kpi_config(settings: Settings, bu_map_path: Path | None = None) -> KpiConfig:
    """The default KPI configuration: time zone from settings, BU map from the CSV seed."""
    return KpiConfig(
        report_timezone=settings.report_timezone,
        week_start=settings.weeks_start,
        bu_map=load_bu_map(bu_map_path),
    )


def sql_string(value: str | None) -> str:
    """A BigQuery string literal (double-quoted, backslash-escaped) or NULL."""
    if value is None:
        return "NULL"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def seed_params(config: KpiConfig) -> dict[str, str]:
    """Placeholder values for ``sql/seeds/seeds.sql``."""
    bu_rows = [
        f"({sql_string(r.bu_name)}, {sql_string(r.normalized_name)}, "
        f"{sql_string(r.role)}, {sql_string(r.region)})"
        for r in config.bu_map
    ]
    patterns = [("estimate", p) for p in config.estimate_job_type_patterns] + [
        ("warranty", p) for p in config.warranty_job_type_patterns
    ]
    pattern_rows = [f"({sql_string(k)}, {sql_string(p)})" for k, p in patterns]

    def date_lit(d: dt.date | None) -> str:
        return "NULL" if d is None else f"DATE '{d.isoformat()}'"

    include = "NULL" if config.include_materials is None else str(config.include_materials).upper()
    return {
        "bu_map_rows": ",\n  ".join(bu_rows),
        "job_type_pattern_rows": ",\n  ".join(pattern_rows),
        "test_customer_pattern": sql_string(config.test_customer_pattern),
        "week_start_day": sql_string(config.week_start),
        "week_start_dow": str(bigquery_dayofweek(config.week_start)),
        "week_from": date_lit(config.week_from),
        "week_to": date_lit(config.week_to),
        "include_materials": include,
        "materials_include_tax": str(config.materials_include_tax).upper(),
    }
