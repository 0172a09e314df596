"""Reconcile with ServiceTitan's reports from a pipeline context: the daily rebuild's step
and the CLI's command share this, so both honour the same call log and store the same rows.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from stkpi import logs
from stkpi.errors import ConfigError
from stkpi.reconcile.mapping import sources_for
from stkpi.reconcile.reports_api import (
    CallLog,
    LandingCallLog,
    ReportBusyError,
    ReportFetcher,
    ReportingApi,
)
from stkpi.reconcile.run import Reconciliation, last_complete_weeks, reconcile, result_rows, store
from stkpi.tenant_maps import kpi_config_for, read_report_map

log = logs.get(__name__)


def run_reconciliation(
    ctx: Any,
    *,
    run_id: str,
    weeks: list[dt.date] | None = None,
    save: bool = True,
    reuse_after: float | None = None,
    max_wait: float | None = None,
    local_calls: CallLog | None = None,
) -> Reconciliation:
    """Reconcile ``weeks`` (default: the last 2 complete weeks in the report time zone),
    store the cells in ``${ops}.reconciliation`` under ``run_id`` when ``save``.

    ``local_calls``: where report calls are kept if the landing bucket is read-only to
    this principal (:class:`LandingCallLog`). Raises ConfigError when the tenant has no
    report mapping or credentials are missing.
    """
    settings = ctx.st_settings  # credentials read now (stkpi.secrets)
    tenant = str(settings.st_tenant_id)
    sources = sources_for(tenant, read_report_map(ctx.bigquery, settings, tenant))
    now = ctx.now()  # when this pass ran (the latest pass is judged)
    weeks = weeks or last_complete_weeks(ctx.tenant_now().astimezone(settings.tz).date())
    fetcher = ReportFetcher(
        ReportingApi(ctx.servicetitan, tenant),
        LandingCallLog(ctx.landing, tenant, local_calls),
        reuse_after=reuse_after,
        max_wait=max_wait,
    )
    bu_map = kpi_config_for(ctx.bigquery, settings, tenant).bu_map
    result = reconcile(ctx.bigquery, settings, fetcher, sources, weeks, bu_map)
    if save:
        store(ctx.bigquery, settings, result_rows(result, run_id=run_id, tenant_id=tenant, at=now))
    counts: dict[str, int] = {}
    for cell in result.cells:
        counts[cell.status] = counts.get(cell.status, 0) + 1
    log.info(
        "reconciled with ServiceTitan's reports",
        extra={"run_id": run_id, "weeks": [str(w) for w in weeks], "cells": counts,
               "report_calls": result.calls_made, "reports_reused": result.reused},
    )  # fmt: skip
    return result


def reconcile_after_rebuild(ctx: Any, run_id: str, run_type: str) -> None:
    """The daily rebuild's step: best effort, a failure is logged and never fails the
    rebuild (``stkpi validate`` judges the latest stored pass).

    Daily runs only (a backfill is followed by its first daily run). Reports taken before
    this rebuild (another run's, within the minute) are not reused: this run's data may be
    newer. And a rebuild never waits out another process's minute: when a report was just
    called, this run's reconciliation is deferred to the next run (logged), so rebuilds
    that follow each other (tests, chaos runs, a replayed day) are not slowed down.
    """
    if run_type != "daily":
        return
    if ctx.settings.st_client_secret is None and "ST_CLIENT_SECRET" not in ctx.settings.st_secrets:
        log.info("reconciliation skipped: this function has no ServiceTitan credentials")
        return
    try:
        run_reconciliation(ctx, run_id=run_id, reuse_after=time.time(), max_wait=0.0)
    except ReportBusyError as exc:
        log.info("reconciliation deferred to the next run", extra={"run_id": run_id,
                                                                   "reason": str(exc)})  # fmt: skip
    except ConfigError as exc:  # no report map yet; a secret with no version yet (its fix)
        log.warning("reconciliation skipped", extra={"run_id": run_id, "error": str(exc)})
    except Exception:
        log.exception("reconciliation failed", extra={"run_id": run_id})
