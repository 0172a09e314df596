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
3. guard: when more than ``max_share`` of the live rows would be marked in one go, mark
   nothing. A revoked scope or a truncated answer looks exactly like a mass delete, and
   must never wipe the warehouse; the event says why and ``stkpi validate`` turns RED;
4. otherwise mark and unmark (``sql/stage/mark_deleted.sql``, idempotent), then append a
   ``keys_scanned`` run event with the counts (``stkpi status``, the validation).

A crash anywhere before step 4 leaves raw untouched (the entity is not marked merged, so
Pub/Sub redelivers the load and the MERGE claim's holder runs this again); a scan whose
windows never all load marks nothing at all. ``deleted_at`` is the scan's plan time, so a
repeated mark writes the same value. The raw MERGE never names ``deleted_at``: only this
module marks and unmarks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from stkpi import logs, sqlfiles
from stkpi.context import PipelineContext
from stkpi.crashpoints import crash_point
from stkpi.errors import PermanentError
from stkpi.landing import Landing, WindowRef
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
    """What one entity's scan saw and would change (``sql/stage/key_scan_counts.sql``)."""

    keys_seen: int
    in_scope: int
    live: int
    to_mark: int
    to_unmark: int

    @property
    def share(self) -> float:
        """Share of the live rows the scan would mark deleted."""
        return self.to_mark / self.live if self.live else 0.0


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
        counts = ScanCounts(**{k: int(doc[k]) for k in ScanCounts.__dataclass_fields__})
        return cls(counts, float(doc["max_share"]), bool(doc["guarded"]), str(doc["reason"]))


def decide(entity: str, counts: ScanCounts, max_share: float) -> ScanDecision:
    """The guard: mark nothing when more than ``max_share`` of the live rows would go."""
    pct = f"{counts.share:.1%}"
    if counts.to_mark > max_share * counts.live:
        return ScanDecision(
            counts,
            max_share,
            True,
            f"{entity}: the key scan would mark {counts.to_mark} of {counts.live} rows "
            f"({pct}) deleted, above the {max_share:.0%} guard; nothing was marked. "
            "ServiceTitan answered with fewer records than raw holds: a revoked API scope "
            "or a truncated answer looks the same as a mass delete",
        )
    return ScanDecision(
        counts,
        max_share,
        False,
        f"{entity}: {counts.to_mark} of {counts.live} rows marked deleted ({pct}), "
        f"{counts.to_unmark} reappeared",
    )


def apply_key_scan(
    run: RunWindows, entity: Entity, window_ids: list[str], ctx: PipelineContext
) -> ScanDecision:
    """Compare raw with the keys the scan staged and mark or unmark (module docstring)."""
    if len(entity.key) != 1:
        raise PermanentError(f"{entity.name}: a key scan needs a single-column key")
    plan = run.plan
    max_share = plan.max_delete_share or ctx.settings.delete_guard_share
    sql_args = _sql_args(entity, run, window_ids, ctx)
    # beside the run's other per-window control objects: control/runs/R/scan/<entity>/..
    name = Landing.control_name(run.run_id, "scan", WindowRef(entity.name, "decision"))
    doc = ctx.landing.read_json(name)
    if doc is None:
        counts = _count(ctx, sql_args)
        ctx.landing.create_json_once(name, decide(entity.name, counts, max_share).to_doc())
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


def _sql_args(
    entity: Entity, run: RunWindows, window_ids: list[str], ctx: PipelineContext
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
    if not tables:
        source = _NO_KEYS.format(key=key)
    elif len(tables) == 1:
        source = tables[0]
    else:
        source = "(" + " UNION ALL ".join(f"SELECT {key} FROM {t}" for t in tables) + ")"
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
