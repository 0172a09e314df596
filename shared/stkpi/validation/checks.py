"""The catalogue: every validation declared once, as data.

A declaration says what the check is called, which ``sql/validations/`` queries measure
it, which function turns their rows into the judge's inputs (stkpi.validation.measures),
which pure judge decides (stkpi.validation.judges) and which ValidationConfig fields that
judge reads. The runner (stkpi.validation.runner) runs them in this order, each subject
through its guard. Adding a check = its SQL file, its measure and judge, one entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from stkpi.registry import DELETABLE
from stkpi.validation import measures
from stkpi.validation.context import Context
from stkpi.validation.judges.bu_map import judge_bu_map
from stkpi.validation.judges.completeness import judge_coverage, judge_volume
from stkpi.validation.judges.deletes import judge_deletes
from stkpi.validation.judges.freshness import judge_freshness
from stkpi.validation.judges.joins import judge_jobs_business_units, judge_join
from stkpi.validation.judges.kpis import judge_kpis
from stkpi.validation.judges.pipeline import (
    judge_dead_letters,
    judge_duplicate_keys,
    judge_listing,
    judge_quarantine,
)
from stkpi.validation.judges.reconciliation import NAME as RECONCILIATION
from stkpi.validation.judges.reconciliation import judge_reconciliation
from stkpi.validation.result import CheckResult

Measure = Callable[[Context, Any, Mapping[str, Any]], Mapping[str, Any]]
Judge = Callable[..., CheckResult | list[CheckResult]]


def once(ctx: Context) -> Iterable[None]:
    """The subjects of a check that runs once (not per entity or join)."""
    return (None,)


@dataclass(frozen=True)
class Shared:
    """A measurement all subjects of a check read, made once before them.

    ``name``: its RED when it cannot be read; ``sql``: the file, from the repository root;
    ``required``: without it the subjects are not measured (their REDs would only repeat
    it); otherwise they are, with an empty mapping.
    """

    name: str
    sql: str
    load: Callable[[Context], Mapping[str, Any]]
    required: bool


@dataclass(frozen=True)
class Check:
    """One validation. ``name`` and ``sql`` may hold ``{subject}``, filled per subject.

    ``name``: its result (a judge may return several, such as the KPI family) and its RED
    when it cannot run; ``sql``: the ``sql/validations/<name>.sql`` queries its measure
    reads; ``thresholds``: the ValidationConfig fields it reads; ``if_missing``: the
    results when a table it reads does not exist, instead of "could not run".
    """

    name: str
    sql: tuple[str, ...]
    measure: Measure
    judge: Judge
    thresholds: tuple[str, ...] = ()
    subjects: Callable[[Context], Iterable[Any]] = once
    shared: Shared | None = None
    if_missing: Callable[[Context, Exception], list[CheckResult]] | None = None


LINK_JOINS = (
    "invoices_jobs",
    "payments_invoices",
    "estimates_jobs",
    "appointments_jobs",
    "gross_pay_items_jobs",
)

CHECKS: tuple[Check, ...] = (
    Check(
        name="freshness.{subject}",
        sql=("freshness_gaps", "freshness_hourly"),  # and sql/ops/raw_table_stats.sql
        measure=measures.freshness,
        judge=judge_freshness,
        thresholds=(
            "freshness_entities",
            "freshness_max_hours",
            "data_freshness_entities",
            "freshness_history_weeks",
            "freshness_gap_factor",
            "freshness_min_records",
            "freshness_p",
            "required_entities",
        ),
        subjects=lambda ctx: ctx.config.freshness_entities,
        shared=Shared(
            "freshness.sync_state",
            "sql/validations/freshness_sync.sql",
            measures.last_syncs,
            required=False,
        ),
    ),
    Check(
        name="volume.{subject}",
        sql=("volume_daily",),
        measure=measures.volume,
        judge=judge_volume,
        thresholds=(
            "volume_entities",
            "volume_drop_ratio",
            "volume_weeks",
            "volume_min_base",
            "volume_p_red",
            "volume_p_yellow",
        ),
        subjects=lambda ctx: ctx.config.volume_entities,
    ),
    Check(
        name="coverage.{subject}",
        sql=("coverage_monthly",),
        measure=measures.coverage,
        judge=judge_coverage,
        thresholds=(
            "coverage_entities",
            "coverage_months",
            "coverage_drop",
            "coverage_baseline_months",
            "coverage_min_baseline_months",
            "coverage_min_base",
            "coverage_p",
            "coverage_gap_base",
            "coverage_settle_days",
            "required_entities",
        ),
        subjects=lambda ctx: ctx.config.coverage_entities,
    ),
    Check(
        name="join.{subject}",
        sql=("join_{subject}",),
        measure=measures.join,
        judge=judge_join,
        thresholds=("joins", "join_p"),
        subjects=lambda ctx: LINK_JOINS,
    ),
    Check(
        name="join.jobs_business_units",
        sql=("join_jobs_business_units", "bu_map_names"),
        measure=measures.jobs_business_units,
        judge=judge_jobs_business_units,
        thresholds=("joins", "join_p"),
    ),
    Check(
        name="kpi.presence",  # and kpi.ranges, kpi.jumps: one measurement, three results
        sql=("kpi_weekly_recent", "kpi_business_units"),
        measure=measures.kpis,
        judge=judge_kpis,
        thresholds=(
            "kpi_weeks",
            "kpi_ranges",
            "kpi_range_min_denominator",
            "kpi_late_cost_kpis",
            "kpi_settle_days",
            "sales_kpis",
            "production_kpis",
            "kpi_jump_factor",
            "kpi_jump_min_base",
            "kpi_jump_min_history",
            "kpi_jump_ratio_abs",
        ),
        if_missing=measures.kpis_missing,
    ),
    Check(
        name="kpi.bu_map",
        sql=("business_units_current",),
        measure=measures.bu_map,
        judge=judge_bu_map,
        thresholds=(),
    ),
    Check(
        name=RECONCILIATION,
        sql=("reconciliation_latest",),
        measure=measures.reconciliation,
        judge=judge_reconciliation,
        thresholds=("reconcile_red_min_abs", "reconcile_red_min_pct", "reconcile_expected_rules"),
    ),
    Check(
        name="pipeline.failed_windows",
        sql=("pipeline_failed_windows",),
        measure=measures.failed_windows,
        judge=partial(judge_listing, "pipeline.failed_windows"),
        thresholds=("pipeline_lookback_hours",),
    ),
    Check(
        name="pipeline.stuck_windows",
        sql=("pipeline_stuck_windows",),
        measure=measures.stuck_windows,
        judge=partial(judge_listing, "pipeline.stuck_windows"),
        thresholds=("pipeline_lookback_hours", "stuck_window_hours"),
    ),
    Check(
        name="pipeline.runs_without_rebuild",
        sql=("pipeline_runs_without_rebuild",),
        measure=measures.runs_without_rebuild,
        judge=partial(judge_listing, "pipeline.runs_without_rebuild"),
        thresholds=("pipeline_lookback_hours", "rebuild_grace_hours"),
    ),
    Check(
        name="pipeline.duplicate_keys",
        sql=("raw_duplicate_keys",),  # and sql/ops/raw_table_stats.sql (rows vs keys)
        measure=measures.duplicate_keys,
        judge=judge_duplicate_keys,
    ),
    Check(
        name="pipeline.quarantine",
        sql=("quarantine_open", "quarantine_copied"),
        measure=measures.quarantine,
        judge=judge_quarantine,
    ),
    Check(
        name="pipeline.dead_letters",
        sql=(),  # counted from Pub/Sub, not BigQuery
        measure=measures.dead_letters,
        judge=judge_dead_letters,
        subjects=lambda ctx: once(ctx) if ctx.dead_letters is not None else (),
    ),
    Check(
        name="deletes.{subject}",
        sql=("deletes_weekly",),
        measure=measures.deletes,
        judge=judge_deletes,
        subjects=lambda ctx: DELETABLE,
        shared=Shared(
            "deletes.scans", "sql/ops/key_scans_latest.sql", measures.scans, required=True
        ),
    ),
)
