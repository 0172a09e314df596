"""Rebuild dims and KPI marts once per run, after every window of the run is loaded.

Exactly one rebuild per run: ``rebuild.done`` makes a redelivered or duplicated rebuild
message a no-op, and a lease (``stkpi.lease``: compare-and-swap on a landing object, with
a heartbeat) lets one delivery at a time work; the others wait for it to finish or take
over once it is dead, so a crashed rebuild is redone and a live one is never doubled.
The ``rebuilt`` run event is inserted once, checked under the lease. Dims and marts are
``CREATE OR REPLACE``, so a rebuild interrupted half-way and repeated produces the same
tables.

Rebuilds of different runs take turns inside the one rebuild_dims instance: it accepts
several deliveries at once (terraform/main.tf, concurrency) and a rebuild waits here for
the one in progress, instead of being refused with 429 at the door, which Pub/Sub would
count as a failed attempt and, during a long rebuild, dead-letter.

Every wait ends in time (``stkpi.deadline``): a delivery waits for its turn and the lease
only while ``REBUILD_SECONDS`` would still be left before its deadline, and then answers
at once (429; Pub/Sub delivers it again after its backoff) instead of starting a rebuild
its timeout would cut off. A rebuild whose deadline passes anyway stops at its next
statement and lets go of its turn and its lease, so the redelivery Pub/Sub sends does not
wait behind a thread nobody is waiting for.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from datetime import timedelta

from stkpi import deadline, logs
from stkpi.context import PipelineContext
from stkpi.crashpoints import crash_point
from stkpi.errors import ConfigError, StkpiError
from stkpi.landing import Landing, WindowRef, window_prefix
from stkpi.lease import WAIT, Lease, LeaseBusyError, acquire
from stkpi.messages import RebuildMessage
from stkpi.planner import RunPlan
from stkpi.registry import get_entity
from stkpi.runtime import DELIVERY_ATTEMPT, DELIVERY_ID
from stkpi.runwindows import stored_plan

log = logs.get(__name__)


# One rebuild at a time in this process (the deployment runs one instance).
_TURN = threading.Lock()

# How long a rebuild may take (dims, marts, reconciliation, validations, report): a
# delivery starts one only with at least this long left before its deadline.
REBUILD_SECONDS = 240.0


class RebuildBusyError(LeaseBusyError):
    """Another rebuild holds this instance's turn for longer than this delivery can wait."""


def _may_wait() -> float:
    """Seconds this delivery may still wait before starting: WAIT without a deadline."""
    left = deadline.remaining()
    if left is None:
        return WAIT.total_seconds()
    return max(0.0, left - REBUILD_SECONDS)


class LeaseLostError(StkpiError):
    """Another delivery took the rebuild over (this one stalled); Pub/Sub redelivers."""


@dataclass(frozen=True)
class RebuildResult:
    status: str  # "rebuilt" | "already_done" | "validated"
    tables: dict[str, int]
    records: int


def rebuild_run(msg: RebuildMessage, ctx: PipelineContext) -> RebuildResult:
    landing = ctx.landing
    if landing.exists(Landing.rebuild_done_name(msg.run_id)):
        log.info("rebuild already done", extra={"run_id": msg.run_id})
        return RebuildResult("already_done", {}, 0)
    if msg.mode == "validate":
        run_checks(msg.run_id, ctx)
        return RebuildResult("validated", {}, 0)
    if not _TURN.acquire(timeout=_may_wait()):
        raise RebuildBusyError(
            f"run {msg.run_id}: another rebuild holds this instance's turn, and this delivery "
            f"cannot wait for it and still have {REBUILD_SECONDS:.0f} s to rebuild"
        )
    try:
        return _rebuild_in_turn(msg, ctx)
    finally:
        _TURN.release()


def _rebuild_in_turn(msg: RebuildMessage, ctx: PipelineContext) -> RebuildResult:
    landing = ctx.landing
    if landing.exists(Landing.rebuild_done_name(msg.run_id)):
        return RebuildResult("already_done", {}, 0)  # finished while this one waited
    lease = acquire(
        landing,
        Landing.rebuild_lock_name(msg.run_id),
        message_id=DELIVERY_ID.get(),
        attempt=DELIVERY_ATTEMPT.get(),
        done=lambda: landing.exists(Landing.rebuild_done_name(msg.run_id)),
        now=ctx.now,
        wait=timedelta(seconds=_may_wait()),
    )
    if lease is None:
        log.info("rebuild finished by another delivery", extra={"run_id": msg.run_id})
        return RebuildResult("already_done", {}, 0)
    try:
        with lease:
            result = _rebuild(msg, ctx, lease)
    except BaseException:
        # Let go at once (a past deadline, a failed query): the redelivery takes over now,
        # not after the heartbeat goes stale. A failure to let go only costs that wait.
        with contextlib.suppress(Exception):
            lease.release()
        raise
    lease.release()
    return result


def _export_tokens(plan: RunPlan, ctx: PipelineContext) -> dict[str, str]:
    """The token each export window of the run ended on (its manifest's), by entity: where
    the entity's next export continues."""
    tokens: dict[str, str] = {}
    for window in plan.windows:
        if not window.export:
            continue
        prefix = window_prefix(window.entity, plan.run_id, window.window_id)
        doc = ctx.landing.read_json(Landing.manifest_name(prefix)) or {}
        if doc.get("continue_from"):
            tokens[window.entity] = doc["continue_from"]
    return tokens


def _rebuild(msg: RebuildMessage, ctx: PipelineContext, lease: Lease) -> RebuildResult:
    landing = ctx.landing
    started = ctx.monotonic()
    plan = stored_plan(msg.run_id, landing)
    ctx.state.run_event(run_id=msg.run_id, state="rebuild_started", run_type=plan.run_type)

    tables = build_models(ctx)
    seconds = {"models": ctx.monotonic() - started}
    crash_point("rebuild.after_models")
    records = _loaded_records(msg.run_id, ctx)
    marks = {  # a mark never passes the tenant's now (a plan refuses a future end anyway)
        name: min(end, ctx.tenant_now())
        for name, end in plan.entity_ends.items()
        if get_entity(name).kind == "transactional"
    }
    if lease.lost.is_set():
        raise LeaseLostError(f"run {msg.run_id}: rebuild lease lost mid-rebuild; will retry")
    if not _already_recorded(msg.run_id, ctx):
        ctx.state.advance_sync_state(msg.run_id, marks, _export_tokens(plan, ctx))
        ctx.state.plan_event(
            plan,
            "rebuilt",
            records=records,
            duration_ms=int((ctx.monotonic() - started) * 1000),
            detail={"tables": tables},
        )
    for phase, step in (
        ("reconcile", lambda: _reconcile(msg.run_id, plan.run_type, ctx)),
        ("validations", lambda: run_checks(msg.run_id, ctx)),
        ("report", lambda: _publish_report(msg.run_id, ctx)),
        ("combined", lambda: _refresh_combined(ctx)),
    ):
        deadline.check(f"run {msg.run_id}: rebuild before {phase}")
        phase_started = ctx.monotonic()
        step()
        seconds[phase] = ctx.monotonic() - phase_started
    landing.write_json(Landing.rebuild_done_name(msg.run_id), {"tables": tables})
    # Where a rebuild's time goes, for whoever tunes the marts or the checks.
    log.info(
        "rebuild phases",
        extra={"run_id": msg.run_id, "seconds": {k: round(v, 2) for k, v in seconds.items()}},
    )
    return RebuildResult("rebuilt", tables, records)


def build_models(ctx: PipelineContext) -> dict[str, int]:
    """Dims, marts and validations; each is its own module so it can run on its own. The
    business units are mapped as the tenant's own BU map says (stkpi.tenant_maps)."""
    from stkpi.marts import build_marts
    from stkpi.tenant_maps import kpi_config_for

    config = kpi_config_for(ctx.bigquery, ctx.settings, tenant_id(ctx))
    return build_marts(ctx.bigquery, ctx.settings, config)


def tenant_id(ctx: PipelineContext) -> str | None:
    """The tenant whose maps this rebuild reads, or None while its id cannot be read (its
    secret has no version yet): every BU then takes its role from its name, and the
    validation kpi.bu_map says why."""
    try:
        return ctx.st_settings.st_tenant_id
    except ConfigError as exc:
        log.warning("tenant unknown; BUs mapped by their names", extra={"error": str(exc)})
        return None


def run_checks(run_id: str, ctx: PipelineContext) -> None:
    """Validations, stored under the run's id in ``validation_results``.

    They run after the run is recorded, so freshness sees the sync marks just advanced. A
    validation that cannot run never fails the rebuild (its results would say RED anyway).
    """
    from stkpi.validation.config import load_validation_config
    from stkpi.validation.result import worst
    from stkpi.validation.runner import run_validations

    tenant = tenant_id(ctx)
    settings = ctx.settings.model_copy(update={"st_tenant_id": tenant}) if tenant else ctx.settings
    try:
        results = run_validations(
            ctx.bigquery,
            settings,
            now=ctx.tenant_now(),
            wall_now=ctx.now(),
            run_id=run_id,
            config=load_validation_config(),  # STKPI_VALIDATION_CONFIG applies here too
        )
    except Exception:
        log.exception("validations failed to run", extra={"run_id": run_id})
        return
    failing = sorted(r.name for r in results if r.status != "GREEN")
    log.info(
        "validations",
        extra={"run_id": run_id, "status": worst(results), "not_green": failing[:50]},
    )


def _reconcile(run_id: str, run_type: str, ctx: PipelineContext) -> None:
    """Our KPIs vs ServiceTitan's reports for the last 2 complete weeks (daily runs), before
    the checks (which judge it) and the report (which shows it). Within the Reporting API's
    limit: each report once, calls recorded in the landing bucket (stkpi.reconcile)."""
    from stkpi.reconcile.daily import reconcile_after_rebuild

    reconcile_after_rebuild(ctx, run_id, run_type)


def _publish_report(run_id: str, ctx: PipelineContext) -> None:
    """The KPI report to reports/kpi-report.html and reports/run=<id>/ (best effort)."""
    from stkpi.report import publish_run_report

    publish_run_report(ctx, run_id)


def _refresh_combined(ctx: PipelineContext) -> None:
    """The deployment's view over every tenant's KPIs, made again if this rebuild made it
    stale (a tenant's first marts; stkpi.combined; best effort). It lives in the
    deployment's datasets, whichever tenant this rebuild is for."""
    from stkpi.combined import refresh_after_rebuild

    refresh_after_rebuild(ctx.bigquery, (ctx.deployment or ctx).settings)


def _loaded_records(run_id: str, ctx: PipelineContext) -> int:
    total = 0
    for marker in ctx.landing.loaded_windows(run_id):
        ref = WindowRef(*marker.split("/", 1))
        total += int(
            (ctx.landing.read_json(Landing.loaded_name(run_id, ref)) or {}).get("records", 0)
        )
    return total


def _already_recorded(run_id: str, ctx: PipelineContext) -> bool:
    rows = ctx.state.query_file("ops/rebuilt_count.sql", run_id=run_id)
    return bool(rows and rows[0]["n"])
