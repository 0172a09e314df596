"""``pipeline.*``: failed, stuck and unrebuilt runs and dead letters. The queries list the
offending rows; any row is RED."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stkpi.validation.config import ValidationConfig
from stkpi.validation.fmt import jsonable, sql_path
from stkpi.validation.result import GREEN, RED, CheckResult, Status


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
    clean = [{k: jsonable(v) for k, v in row.items()} for row in rows]
    numbers = {"count": len(rows), "rows": clean[:20]}
    if rows:
        return CheckResult(
            name, status, f"{len(rows)} {what}", numbers, dict(threshold), next_step, len(rows)
        )
    return CheckResult(name, GREEN, ok, numbers, dict(threshold), "", 0.0)


def _lookback(config: ValidationConfig) -> dict[str, Any]:
    return {"lookback_hours": config.pipeline_lookback_hours}


def judge_failed_windows(
    rows: Sequence[Mapping[str, Any]], config: ValidationConfig
) -> CheckResult:
    """Windows that failed or were dead-lettered in the lookback (``pipeline_failed_windows``)."""
    return judge_rows(
        "pipeline.failed_windows",
        rows,
        what="windows failed or dead-lettered",
        ok="no failed windows",
        threshold={**_lookback(config), "max": 0},
        next_step=f"stkpi status; {sql_path('pipeline_failed_windows')} "
        "(the error column); re-plan: stkpi backfill --entities ... --start ... --end ...",
    )


def judge_stuck_windows(rows: Sequence[Mapping[str, Any]], config: ValidationConfig) -> CheckResult:
    """Windows idle past ``stuck_window_hours`` without loading (``pipeline_stuck_windows``)."""
    return judge_rows(
        "pipeline.stuck_windows",
        rows,
        what=f"windows stuck (no progress for {config.stuck_window_hours:g} h)",
        ok="no stuck windows",
        threshold={**_lookback(config), "stuck_hours": config.stuck_window_hours},
        next_step=f"stkpi status; {sql_path('pipeline_stuck_windows')}; "
        "look for the window's function logs (run_id, window_id)",
    )


def judge_runs_without_rebuild(
    rows: Sequence[Mapping[str, Any]], config: ValidationConfig
) -> CheckResult:
    """Runs not rebuilt exactly once ``rebuild_grace_hours`` after their plan."""
    return judge_rows(
        "pipeline.runs_without_rebuild",
        rows,
        what="runs without exactly one rebuild",
        ok="every run rebuilt once",
        threshold={**_lookback(config), "grace_hours": config.rebuild_grace_hours},
        next_step=f"stkpi status; {sql_path('pipeline_runs_without_rebuild')}; "
        "a run whose windows all loaded but never rebuilt needs its rebuild "
        "message re-published",
    )


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
