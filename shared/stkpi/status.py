"""What `stkpi status` shows: runs, windows by state, rows and lag per raw table, the
last key scan per entity, dead letters. Read-only; every number comes from st_ops, the
raw tables or Pub/Sub."""

from __future__ import annotations

from typing import Any

from stkpi.context import PipelineContext
from stkpi.table_stats import raw_table_stats


def collect_status(ctx: PipelineContext) -> dict[str, Any]:
    runs = ctx.state.query_file("ops/status_runs.sql")
    now = ctx.tenant_now()  # a lag in the tenant's time: how far behind its present raw is
    entities = []
    for name, stats in raw_table_stats(ctx.bigquery, ctx.settings).items():
        if isinstance(stats, Exception):
            raise stats  # the deployment creates every raw table: one missing is an error
        newest = stats.newest
        entities.append(
            {
                "entity": name,
                "rows": stats.rows,
                "newest": newest.isoformat() if newest else None,
                "lag_hours": (now - newest).total_seconds() / 3600 if newest else None,
            }
        )
    return {
        "runs": runs,
        "entities": entities,
        "scans": key_scans(ctx),
        "dead_letters": dead_letters(ctx),
    }


def key_scans(ctx: PipelineContext) -> list[dict[str, Any]]:
    """The last key scan of each entity, its counts flattened (stkpi.key_scan)."""
    from stkpi.validation.judges.deletes import scan_detail
    from stkpi.validation.measures import latest_scans

    out = []
    for entity, row in sorted(latest_scans(ctx.bigquery, ctx.settings).items()):
        detail = scan_detail(row.get("detail"))
        at = row.get("event_time")
        out.append(
            {
                "entity": entity,
                "run_id": row.get("run_id"),
                "event_time": at.isoformat() if hasattr(at, "isoformat") else at,
                "marked": int(row.get("marked") or 0),
                **detail,
            }
        )
    return out


def dead_letters(ctx: PipelineContext) -> dict[str, int]:
    """Messages waiting on the dead-letter subscriptions (left there, not consumed)."""
    from stkpi.deadletters import count_dead_letters

    try:
        return count_dead_letters(ctx.settings, ack=False)
    except Exception as exc:  # no dead-letter subscriptions reachable here
        return {f"unavailable: {type(exc).__name__}": 0}
