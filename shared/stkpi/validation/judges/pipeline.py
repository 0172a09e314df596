"""``pipeline.*``: failed, stuck and unrebuilt runs and dead letters. The queries list the
offending rows; any row is RED."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stkpi.quarantine import REPLAY_COMMAND, OpenRecord
from stkpi.validation.config import ValidationConfig
from stkpi.validation.fmt import jsonable, sql_path
from stkpi.validation.result import GREEN, RED, YELLOW, CheckResult, Status


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


@dataclass(frozen=True)
class Listing:
    """A pipeline query that lists offending rows: what a row is (``{field}`` filled from
    the config), what none reads as, its thresholds besides the lookback, where to look."""

    what: str
    ok: str
    threshold: Callable[[ValidationConfig], dict[str, Any]]
    next_step: str


LISTINGS: dict[str, Listing] = {
    "pipeline.failed_windows": Listing(
        "windows failed or dead-lettered", "no failed windows", lambda c: {"max": 0},
        f"stkpi status; {sql_path('pipeline_failed_windows')} (the error column); "
        "re-plan: stkpi backfill --entities ... --start ... --end ...",
    ),
    "pipeline.stuck_windows": Listing(
        "windows stuck (no progress for {stuck_window_hours:g} h)", "no stuck windows",
        lambda c: {"stuck_hours": c.stuck_window_hours},
        f"stkpi status; {sql_path('pipeline_stuck_windows')}; "
        "look for the window's function logs (run_id, window_id)",
    ),
    "pipeline.runs_without_rebuild": Listing(
        "runs without exactly one rebuild", "every run rebuilt once",
        lambda c: {"grace_hours": c.rebuild_grace_hours},
        f"stkpi status; {sql_path('pipeline_runs_without_rebuild')}; a run whose windows "
        "all loaded but never rebuilt needs its rebuild message re-published",
    ),
}  # fmt: skip


def judge_listing(
    name: str, rows: Sequence[Mapping[str, Any]], config: ValidationConfig
) -> CheckResult:
    """``name``'s rows over the lookback (``pipeline_lookback_hours``) judged by
    :func:`judge_rows` as its :data:`LISTINGS` entry says."""
    spec = LISTINGS[name]
    threshold = {"lookback_hours": config.pipeline_lookback_hours, **spec.threshold(config)}
    return judge_rows(
        name,
        rows,
        what=spec.what.format_map(vars(config)),
        ok=spec.ok,
        threshold=threshold,
        next_step=spec.next_step,
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


def judge_duplicate_keys(doubled: Mapping[str, Mapping[str, Any]]) -> CheckResult:
    """RED when any raw table holds a key twice: every KPI summing that table counts the
    record twice, and no later MERGE removes the extra copy."""
    name = "pipeline.duplicate_keys"
    if not doubled:
        return CheckResult(name, GREEN, "one row per key in every raw table", {}, {"max": 0})
    extra = {e: int(d["rows"]) - int(d["keys"]) for e, d in doubled.items()}
    listed = ", ".join(
        f"{e} {n} extra rows (e.g. key {doubled[e]['sample'][0]['record_key']})"
        if doubled[e]["sample"]
        else f"{e} {n} extra rows"
        for e, n in sorted(extra.items())
    )
    return CheckResult(
        name,
        RED,
        f"raw tables holding a key more than once: {listed}",
        {"by_entity": {e: dict(d) for e, d in doubled.items()}},
        {"max": 0},
        f"{sql_path('raw_duplicate_keys')} (table=<entity>, key=<its key>) lists the keys; "
        "KPIs over these tables count those records twice: keep the newest row of each key "
        "(highest modified_on), then re-copy the entity: stkpi backfill --entities ... "
        "--start ... --end ...",
        float(sum(extra.values())),
    )


def judge_quarantine(records: Sequence[OpenRecord]) -> CheckResult:
    """RED when a quarantined record is missing from raw altogether (every KPI it feeds
    lacks it), YELLOW when raw still shows an older version of each; names the records and
    the command that reads them again once the cause is fixed."""
    name = "pipeline.quarantine"
    if not records:
        return CheckResult(name, GREEN, "no quarantined records waiting", {}, {"max": 0})
    missing = [r for r in records if r.copied_at is None]
    status = RED if missing else YELLOW
    first = (missing or list(records))[:5]
    listed = "; ".join(r.describe() for r in first)
    more = f" and {len(records) - len(first)} more" if len(records) > len(first) else ""
    what = (
        f"{len(missing)} missing from raw, {len(records) - len(missing)} at an older version"
        if missing
        else "raw shows an older version of each"
    )
    rows = [
        {
            "entity": r.entity,
            "record_key": r.record_key,
            "reason": r.reason[:300],
            "run_id": r.run_id,
            "window_id": r.window_id,
            "quarantined_at": jsonable(r.quarantined_at),
            "in_raw": r.copied_at is not None,
        }
        for r in records[:50]
    ]
    return CheckResult(
        name,
        status,
        f"{len(records)} quarantined records not copied since ({what}): {listed}{more}",
        {"count": len(records), "missing": len(missing), "rows": rows},
        {"max": 0},
        "`stkpi quarantine` lists them with their reasons; fix the record in "
        "ServiceTitan (the next daily run copies it) or the pipeline, then read them again: "
        f"{REPLAY_COMMAND}",
        float(len(records)),
    )
