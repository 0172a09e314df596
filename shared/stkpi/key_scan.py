"""Key scan: mark raw rows whose records ServiceTitan hard-deleted (soft: ``deleted_at``).

ServiceTitan deletes some records outright (estimates, appointments, payments, customers,
locations, business units, technicians): they vanish from list and export answers, so an
incremental sync never hears of them and a deleted estimate would count in Total Booked
forever. Only a full key scan can see a delete. A scan is an ordinary run
(``run_type="deletes"``, stkpi.planner) whose windows are by createdOn; its windows are
fetched, staged and MERGEd like any run's, and once the entity's windows are all staged
(each after a pass with a stable count, stkpi.fetch) the entity's MERGE calls
:func:`apply_key_scan` with the staging tables still in place:

1. count what the scan would change (``sql/stage/key_scan_counts.sql``): rows in scope
   (createdOn inside the scan's range), live rows, live rows whose key was not seen
   (to mark), deleted rows whose key was seen again (to unmark);
2. decide once: the decision is stored with ``if_generation_match=0``
   (``control/runs/R/scan/<entity>.json``), so a redelivery applies the same decision
   instead of recounting a raw table it already changed;
3. guard: when the scans of the last ``DELETE_GUARD_DAYS`` (30) days, this one included,
   would have marked more than ``DELETE_GUARD_SHARE`` (2%) of the entity, mark nothing. A
   revoked scope or a truncated answer looks exactly like a mass delete, and must never
   wipe the warehouse, not in one scan nor a little every week; the event says why and
   ``stkpi validate`` turns RED. Only the operator raises the share, for an entity and a
   time (``stkpi deletes --allow-share``: ``st_ops.delete_allowances``, which a plan
   message cannot write); a scan that did not add up (fewer keys than ServiceTitan
   counted in its windows) marks nothing either;
4. otherwise mark and unmark (``sql/stage/mark_deleted.sql``, idempotent), then append a
   ``keys_scanned`` run event with the counts (``stkpi status``, the validation).

A crash anywhere before step 4 leaves raw untouched (the entity is not marked merged, so
Pub/Sub redelivers the load and the MERGE claim's holder runs this again); a scan whose
windows never all load marks nothing at all. ``deleted_at`` is the scan's plan time, so a
repeated mark writes the same value. The raw MERGE never names ``deleted_at``: only this
module marks and unmarks.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from google.api_core.exceptions import NotFound

from stkpi import logs, sqlfiles
from stkpi.context import PipelineContext
from stkpi.crashpoints import crash_point
from stkpi.errors import PermanentError
from stkpi.kpi_config import sql_string
from stkpi.landing import Landing, WindowRef, window_prefix
from stkpi.merge_slices import PARTITIONS_PER_MERGE, partition_slices
from stkpi.registry import Entity
from stkpi.runwindows import RunWindows
from stkpi.warehouse import staging_table_id
from stkpi.windows import iso_z

log = logs.get(__name__)

# An empty key set with the right type, for a scan whose windows staged nothing.
_NO_KEYS = "(SELECT CAST(NULL AS INT64) AS {key} FROM (SELECT 1 AS one) WHERE FALSE)"


@dataclass(frozen=True)
class ScanCounts:
    """What one entity's scan saw and would change (``sql/stage/key_scan_counts.sql``);
    ``recently_marked``: rows earlier scans marked within the guard's rolling period."""

    keys_seen: int
    in_scope: int
    live: int
    to_mark: int
    to_unmark: int
    recently_marked: int = 0

    @property
    def share(self) -> float:
        """Share of the entity the scans would have marked deleted over the guard's
        period: this scan's marks and the period's earlier ones, of the rows live before
        them."""
        base = self.live + self.recently_marked
        return (self.to_mark + self.recently_marked) / base if base else 0.0


@dataclass(frozen=True)
class ScanDecision:
    """The stored outcome of one entity's scan: counts, guard and its reason."""

    counts: ScanCounts
    max_share: float
    guarded: bool
    reason: str

    def to_doc(self) -> dict[str, Any]:
        return {
            **asdict(self.counts),
            "share": round(self.counts.share, 6),
            "max_share": self.max_share,
            "guarded": self.guarded,
            "reason": self.reason,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ScanDecision:
        counts = ScanCounts(**{k: int(doc.get(k) or 0) for k in ScanCounts.__dataclass_fields__})
        return cls(counts, float(doc["max_share"]), bool(doc["guarded"]), str(doc["reason"]))


def decide(
    entity: str, counts: ScanCounts, max_share: float, days: int = 30, allowed: bool = False
) -> ScanDecision:
    """The guard: mark nothing when the scans of the last ``days`` days, this one included,
    would have marked more than ``max_share`` of the entity (``allowed``: the operator
    raised the share, ``stkpi deletes --allow-share``)."""
    pct = f"{counts.share:.1%}"
    earlier = (
        f" (with the {counts.recently_marked} marked in the last {days} days)"
        if counts.recently_marked
        else ""
    )
    whose = "the operator's allowance of" if allowed else "the"
    if counts.to_mark and counts.share > max_share:
        return ScanDecision(
            counts,
            max_share,
            True,
            f"{entity}: the key scan would mark {counts.to_mark} of {counts.live} rows "
            f"deleted{earlier}: {pct} of the entity over {days} days, above {whose} "
            f"{max_share:.0%} guard; nothing was marked. A revoked API scope or a truncated "
            "answer looks the same as a mass delete; if the deletes are real: "
            f"stkpi deletes --entities {entity} --allow-share {share_above(counts.share):g}",
        )
    return ScanDecision(
        counts,
        max_share,
        False,
        f"{entity}: {counts.to_mark} of {counts.live} rows marked deleted{earlier} "
        f"({pct} over {days} days), {counts.to_unmark} reappeared",
    )


def share_above(share: Any) -> float:
    """A guard share that lets a refused scan through: its share plus a point, capped."""
    try:
        return min(1.0, math.ceil((float(share) + 0.01) * 100) / 100)
    except (TypeError, ValueError):
        return 1.0


def allowed_share(entity: str, at: datetime, ctx: PipelineContext) -> float | None:
    """The operator's allowance in force for ``entity`` when the scan decides (``stkpi
    deletes --allow-share``), or None: only the operator's own grant raises the guard."""
    try:
        rows = ctx.state.query_file("ops/delete_allowance_latest.sql", entity=entity, at=iso_z(at))
    except NotFound:  # datasets from before the table existed
        return None
    return float(rows[0]["max_share"]) if rows else None


def apply_key_scan(
    run: RunWindows, entity: Entity, window_ids: list[str], ctx: PipelineContext
) -> ScanDecision:
    """Compare raw with the keys the scan staged and mark or unmark (module docstring)."""
    if len(entity.key) != 1:
        raise PermanentError(f"{entity.name}: a key scan needs a single-column key")
    plan = run.plan
    allowance = allowed_share(entity.name, ctx.now(), ctx)
    max_share = allowance or ctx.settings.delete_guard_share
    days = ctx.settings.delete_guard_days
    counted, held = _window_counts(entity, run, window_ids, ctx)
    sql_args = _sql_args(entity, run, window_ids, ctx, held)
    # beside the run's other per-window control objects: control/runs/R/scan/<entity>/..
    name = Landing.control_name(run.run_id, "scan", WindowRef(entity.name, "decision"))
    doc = ctx.landing.read_json(name)
    if doc is None:
        since = _ts(plan.end - timedelta(days=days))
        counts = _count(ctx, {**sql_args, "since": since})
        decision = decide(entity.name, counts, max_share, days, allowance is not None)
        if counted is not None and counts.keys_seen != counted:
            decision = ScanDecision(
                counts,
                max_share,
                True,
                f"{entity.name}: the key scan read {counts.keys_seen} keys where ServiceTitan "
                f"counted {counted}: it did not add up, so nothing was marked",
            )
        ctx.landing.create_json_once(name, decision.to_doc())
        doc = ctx.landing.read_json(name) or {}  # a twin's decision, if it was first
    decision = ScanDecision.from_doc(doc)
    crash_point("scan.after_decision", entity=entity.name)
    if not decision.guarded:
        for scope in _mark_scopes(entity, run, sql_args["scope"], decision.counts):
            args = {**sql_args, "scope": scope}
            sql = sqlfiles.render("stage/mark_deleted.sql", ctx.settings, **args)
            for statement in sqlfiles.statements(sql):
                ctx.bigquery.query_and_wait(statement)
        crash_point("scan.after_mark", entity=entity.name)
    ctx.state.run_event(
        run_id=run.run_id,
        state="keys_scanned",
        run_type=plan.run_type,
        entities=[entity.name],
        windows=len(window_ids),
        records=0 if decision.guarded else decision.counts.to_mark,
        plan_start=plan.start,
        plan_end=plan.end,
        detail=decision.to_doc(),
    )
    level = log.warning if decision.guarded else log.info
    level(
        "key scan guarded: nothing marked" if decision.guarded else "key scan applied",
        extra={"run_id": run.run_id, "entity": entity.name, **decision.to_doc()},
    )
    return decision


def _window_counts(
    entity: Entity, run: RunWindows, window_ids: list[str], ctx: PipelineContext
) -> tuple[int | None, list[str]]:
    """What the scan's windows counted in ServiceTitan (their manifests; None when a window
    had no count to check against) and the keys they quarantined: read, so not deleted,
    though not in the staging tables."""
    total: int | None = 0
    held: list[str] = []
    for leaf in run.leaves(entity.name):
        doc = ctx.landing.read_json(
            Landing.manifest_name(window_prefix(entity.name, run.run_id, leaf.window_id))
        )
        count = (doc or {}).get("count")
        total = None if total is None or count is None else total + int(count)
        held += [str(k) for k in (doc or {}).get("quarantined_keys", ())]
    return total, held


def _sql_args(
    entity: Entity,
    run: RunWindows,
    window_ids: list[str],
    ctx: PipelineContext,
    held: list[str] = (),  # type: ignore[assignment]
) -> dict[str, str]:
    """Placeholders of the scan's SQL. Times are rendered as TIMESTAMP literals from the
    stored plan's datetimes (never from user text), so the SQL files need no query
    parameters: the BigQuery emulator counts an ``@name`` written in a SQL comment as a
    parameter and refuses the statement (docs/EMULATOR_GAPS.md #10)."""
    key = entity.key[0]
    plan = run.plan
    tables = [
        f"`{ctx.settings.gcp_project}.{ctx.settings.dataset('stage')}."
        f"{staging_table_id(entity, run.run_id, w)}`"
        for w in window_ids
    ]
    parts = [f"SELECT {key} FROM {t}" for t in tables]
    if held:  # quarantined: read, so not deleted, though not staged
        kind = entity.column(key).type
        values = ", ".join(f"CAST({sql_string(k)} AS {kind})" for k in sorted(set(held)))
        parts.append(f"SELECT {key} FROM UNNEST([{values}]) AS {key}")
    if not parts:
        source = _NO_KEYS.format(key=key)
    elif len(parts) == 1 and tables:
        source = tables[0]
    else:
        source = "(" + " UNION ALL ".join(parts) + ")"
    scope = "TRUE"
    if entity.kind == "transactional":
        col = entity.for_key_scan().scan_column
        scope = f"T.{col} >= {_ts(_scan_start(entity, run))} AND T.{col} < {_ts(plan.end)}"
    return {
        "table": entity.raw_table,
        "key": key,
        "source": source,
        "scope": scope,
        "scanned_at": _ts(plan.end),
    }


def _scan_start(entity: Entity, run: RunWindows) -> datetime:
    starts = [w.start for w in run.plan.windows if w.entity == entity.name]
    return min(starts) if starts else run.plan.start


def _mark_scopes(entity: Entity, run: RunWindows, scope: str, counts: ScanCounts) -> list[str]:
    """The scope of the mark statements, cut by createdOn day when they could write more
    partitions than BigQuery allows one statement: each UPDATE writes only the rows it
    marks or unmarks, so up to PARTITIONS_PER_MERGE of them cannot, and more (a mass
    delete an operator allowed) are marked a slice of days at a time."""
    col = entity.for_key_scan().scan_column
    if entity.kind != "transactional" or max(counts.to_mark, counts.to_unmark) <= (
        PARTITIONS_PER_MERGE
    ):
        return [scope]
    first, last = _scan_start(entity, run).date(), run.plan.end.date()
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [f"{scope} {piece.target_prune(col)}" for piece in partition_slices(days)]


def _ts(value: datetime) -> str:
    return f"TIMESTAMP '{iso_z(value)}'"


def _count(ctx: PipelineContext, sql_args: dict[str, str]) -> ScanCounts:
    sql = sqlfiles.render("stage/key_scan_counts.sql", ctx.settings, **sql_args)
    row = next(iter(ctx.bigquery.query_and_wait(sql)))
    return ScanCounts(**{k: int(row[k] or 0) for k in ScanCounts.__dataclass_fields__})
