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
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)

from stkpi import kpis
from stkpi.errors import ConfigError
from stkpi.registry import ENTITIES, TRANSACTIONAL

# Value types of the settings: the constraint is part of the type, so a wrong value is
# refused where it is read, with the setting's name. Numbers are strict: 2.5 is no count
# of weeks, "25" no number of hours and true no number at all (an integer is a number).
Number = Annotated[float, Strict()]
Integer = Annotated[int, Strict()]
Rate = Annotated[Number, Field(ge=0, le=1)]  # a share: 0..1
Probability = Annotated[Number, Field(gt=0, lt=1)]  # a p-value threshold: strictly inside
Positive = Annotated[Number, Field(gt=0)]
NonNegative = Annotated[Number, Field(ge=0)]
Count = Annotated[Integer, Field(ge=0)]


def _known(kind: str, known: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """A validator refusing names outside ``known`` (entities, KPIs), naming them."""

    def check(names: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise ValueError(f"unknown {kind} {unknown}; known: {list(known)}")
        return names

    return AfterValidator(check)


Entities = Annotated[tuple[str, ...], _known("entities", tuple(e.name for e in ENTITIES))]
KpiNames = Annotated[tuple[str, ...], _known("KPIs", kpis.NAMES)]


class JoinThreshold(BaseModel):
    """A link rate below ``red_below`` is RED; below ``target`` is YELLOW; else GREEN."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    red_below: Rate
    target: Rate

    @model_validator(mode="after")
    def _ordered(self) -> JoinThreshold:
        if self.red_below > self.target:
            raise ValueError(
                f"join thresholds need red_below <= target; "
                f"got red_below={self.red_below}, target={self.target}"
            )
        return self


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
DEFAULT_KPI_RANGES: dict[str, tuple[Number | None, Number | None]] = {
    k.name: k.valid_range for k in kpis.KPIS if k.valid_range is not None
}

# KPIs that read too high until their late costs (payroll) are in.
DEFAULT_LATE_COST_KPIS: tuple[str, ...] = tuple(k.name for k in kpis.KPIS if k.late_costs)

SALES_KPIS: tuple[str, ...] = kpis.names(role="Sales")
PRODUCTION_KPIS: tuple[str, ...] = kpis.names(role="Production")

CORE_ENTITIES: tuple[str, ...] = ("jobs", "appointments", "invoices", "estimates", "payments")

# Money and counts must reach these (the value or the weeks' median) to be judged as jumps.
DEFAULT_JUMP_MIN_BASE: dict[str, float] = {"count": 10.0, "money": 1000.0}


def _over(defaults: Mapping[str, Any], what: str, known: tuple[str, ...] | None = None):  # type: ignore[no-untyped-def]
    """A validator that reads a mapping setting as overrides of its defaults: a file that
    sets one join's target keeps the other joins and that join's ``red_below``. Keys the
    defaults lack are refused, named."""

    def merge(value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value  # the type check says what is wrong
        names = set(defaults) if known is None else set(known)
        unknown = sorted(set(value) - names)
        if unknown:
            raise ValueError(f"unknown {what} {unknown}; known: {sorted(names)}")
        out = dict(defaults)
        for key, item in value.items():
            base = defaults.get(key)
            if isinstance(base, BaseModel) and isinstance(item, Mapping):
                item = {**base.model_dump(), **item}
            out[key] = item
        return out

    return BeforeValidator(merge)


class ValidationConfig(BaseModel):
    """Thresholds and scopes of every check (see the module docstring for overrides).

    A pydantic model: each setting's type and range is declared with it, an unknown key is
    refused (a misspelt setting would otherwise be silently left at its default), and every
    problem of a settings file is named in one error (:func:`config_from_mapping`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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
    freshness_max_hours: Positive = 25.0
    freshness_entities: Entities = TRANSACTIONAL
    data_freshness_entities: Entities = CORE_ENTITIES
    freshness_history_weeks: Annotated[Integer, Field(ge=1)] = 4
    freshness_gap_factor: Annotated[Number, Field(ge=1)] = 1.5
    freshness_min_records: Count = 10
    freshness_p: Probability = 0.001
    # Entities that must have rows and syncs; other entities are checked only once ingested.
    required_entities: Entities = CORE_ENTITIES
    # Volume: the latest complete day vs the median of the same weekday over the
    # `volume_weeks` weeks before it. Under `volume_min_base` records a day the entity is
    # too small to judge by day (a 90% loss of 8 records is as likely a quiet day). Below
    # `volume_drop_ratio` x the median the day is low; it is RED when a count that low has
    # under `volume_p_red` probability for a negative binomial with that median and those
    # weekdays' spread (YELLOW under `volume_p_yellow`), so 1 instead of 3 is noise while
    # 10 instead of 100 is a collapse. The p-values are small because a run judges five
    # entities' days every day (the calibration, docs/VALIDATION.md).
    volume_entities: Entities = CORE_ENTITIES
    volume_drop_ratio: Annotated[Number, Field(gt=0, le=1)] = 0.5
    volume_weeks: Annotated[Integer, Field(ge=1)] = 8
    volume_min_base: NonNegative = 20.0
    volume_p_red: Probability = 0.000001
    volume_p_yellow: Probability = 0.0001
    # Coverage: monthly row counts over `coverage_months`; a complete month under
    # (1 - coverage_drop) x the median of the `coverage_baseline_months` months before it,
    # so low that a count with that mean and the spread of the entity's other months has
    # a probability under `coverage_p` (a month with no rows included; a negative
    # binomial, judges.completeness), is YELLOW. Baselines under `coverage_min_base` rows
    # a month are not judged. `coverage_p` is small because a run judges ~120 months (12
    # entities x 10), daily, and a count of clumped records has a heavier low tail than
    # the model: `stkpi calibrate` measured 0.001 YELLOW on 1 healthy simulated tenant in
    # 5; the demo's own tenant reached 9e-7 at some hours (12 estimates in a month of 8
    # sales visits). An empty month where 30 are usual is still far below it
    # (docs/VALIDATION.md has the measured rates).
    coverage_entities: Entities = TRANSACTIONAL
    coverage_months: Annotated[Integer, Field(ge=2)] = 13
    coverage_drop: Annotated[Number, Field(gt=0, le=1)] = 0.5
    coverage_baseline_months: Annotated[Integer, Field(ge=1)] = 6
    coverage_min_baseline_months: Annotated[Integer, Field(ge=1)] = 2  # months before a judged one
    coverage_min_base: NonNegative = 5.0
    coverage_p: Probability = 1e-7
    # ... and a complete month with no rows at all where the median before it is at least
    # `coverage_gap_base` is a gap whatever the spread: the spread of clumpy records (three
    # estimates to a visit) makes a negative binomial call an empty month of estimates
    # where 35 are usual a 3e-5 chance, while it takes a month without one sales visit
    # (15 usual), about 3e-7. An empty month is how a month that never synced looks.
    coverage_gap_base: NonNegative = 30.0
    # An entity counted by a date other than its creation (payroll items by the day
    # worked) gets rows for a month after the month ends: its month is judged only once
    # `coverage_settle_days` have passed since (a pay period and the payroll run after it).
    coverage_settle_days: Count = 14
    joins: Annotated[dict[str, JoinThreshold], _over(DEFAULT_JOINS, "joins")] = Field(
        default_factory=lambda: dict(DEFAULT_JOINS)
    )
    # A link rate under its target is YELLOW only when the unlinked count is beyond chance:
    # under `join_p` probability for a Poisson count with the mean the target allows. 17
    # unlinked of 1,699 invoices (98.99%) is what a 99% target allows (17.0); 15 of 528
    # (5.3 allowed) is not. RED (below `red_below`) needs no test.
    join_p: Probability = 0.01
    # KPIs: the last `kpi_weeks` complete weeks per BU.
    kpi_weeks: Annotated[Integer, Field(ge=2)] = 12
    kpi_ranges: Annotated[
        dict[str, tuple[Number | None, Number | None]],
        _over(DEFAULT_KPI_RANGES, "KPIs", kpis.NAMES),
    ] = Field(default_factory=lambda: dict(DEFAULT_KPI_RANGES))
    # A ratio KPI whose denominator is below this is not judged (range or jump): a BU-week
    # with one small invoice and a crew's full week of labour is not an error.
    kpi_range_min_denominator: Annotated[
        dict[str, NonNegative], _over(DEFAULT_RANGE_MIN_DENOMINATOR, "ratio KPIs")
    ] = Field(default_factory=lambda: dict(DEFAULT_RANGE_MIN_DENOMINATOR))
    # A KPI that subtracts costs recorded after the work (`kpi_late_cost_kpis`: GPM's labor)
    # reads too high in a week whose Sunday is under `kpi_settle_days` ago: such a week is
    # judged against its range and its BU's weeks only from below until it has settled.
    kpi_late_cost_kpis: KpiNames = DEFAULT_LATE_COST_KPIS
    kpi_settle_days: Count = 14
    sales_kpis: KpiNames = SALES_KPIS
    production_kpis: KpiNames = PRODUCTION_KPIS
    # Jumps of flows (a balance, A/R or Future Bookings, moves by flows judged here
    # themselves), judged against the BU's own weeks: a count or money KPI above
    # `kpi_jump_factor` x the highest or below the lowest / `kpi_jump_factor` of the
    # weeks before it in the window (at least `kpi_jump_min_history` of them), when the
    # value or the median of those weeks reaches the minimum base, is YELLOW; a ratio
    # KPI is YELLOW beyond those weeks' range by more than `kpi_jump_ratio_abs` (0.5 = 50
    # points). Money and counts are judged only when those weeks are steady (the highest
    # within `kpi_jump_factor` x the lowest): a small BU whose weeks swing between 0 and
    # $1,300, or $763 and $7,019, swings; a 4x week there is one big job, not a jump.
    kpi_jump_factor: Annotated[Number, Field(gt=1)] = 3.0
    kpi_jump_min_base: Annotated[
        dict[str, NonNegative], _over(DEFAULT_JUMP_MIN_BASE, "KPI kinds")
    ] = Field(default_factory=lambda: dict(DEFAULT_JUMP_MIN_BASE))
    kpi_jump_min_history: Annotated[Integer, Field(ge=1)] = 3
    kpi_jump_ratio_abs: NonNegative = 0.5
    # Pipeline health: look back this far; a window idle longer than `stuck_window_hours`
    # without being loaded is stuck; a run not rebuilt `rebuild_grace_hours` after its plan
    # is a run without a rebuild.
    pipeline_lookback_hours: Positive = 48.0
    stuck_window_hours: Positive = 2.0
    rebuild_grace_hours: NonNegative = 3.0
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
    reconcile_red_min_abs: NonNegative = 1.0
    reconcile_red_min_pct: NonNegative = 0.005
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

    @model_validator(mode="after")
    def _consistent(self) -> ValidationConfig:
        """What no single field's range can say: settings that must agree."""
        problems = []
        if self.volume_p_red > self.volume_p_yellow:
            problems.append("volume p-values need volume_p_red <= volume_p_yellow")
        if self.coverage_min_baseline_months > self.coverage_baseline_months:
            problems.append("coverage_min_baseline_months must be <= coverage_baseline_months")
        for kpi, (lo, hi) in self.kpi_ranges.items():
            if lo is not None and hi is not None and lo > hi:
                problems.append(f"kpi_ranges.{kpi}: low {lo} is above high {hi}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def join(self, name: str) -> JoinThreshold:
        return self.joins.get(name, DEFAULT_JOINS[name])


def config_from_mapping(data: Mapping[str, Any], *, source: str = "settings") -> ValidationConfig:
    """Defaults overridden by ``data`` (JSON-shaped: lists for tuples, objects for the
    mappings, which override their defaults key by key). Raises one ``ConfigError`` naming
    every setting that is unknown, of the wrong type or out of its range."""
    try:
        return ValidationConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(f"invalid validation config ({source}):\n" + _problems(exc)) from None


def _problems(exc: ValidationError) -> str:
    """One line per problem: the setting, what is wrong, and the value given."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            near = get_close_matches(where, ValidationConfig.model_fields, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            lines.append(
                f"  - {where}: unknown setting ({hint}the settings are the fields of "
                "stkpi.validation.config.ValidationConfig, docs/VALIDATION.md)"
            )
            continue
        msg = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        got = "" if isinstance(value, dict) or not where else f" (got {json.dumps(value)[:60]})"
        lines.append(f"  - {where or 'settings'}: {msg}{got}")
    return "\n".join(lines)


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
    return config_from_mapping(data, source=str(path))
