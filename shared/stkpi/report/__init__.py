"""``stkpi report``: one self-contained HTML page of the weekly KPIs, the validation
stoplight, data freshness and the run history.

:func:`build_report` gathers (``data``, SQL under ``sql/report/``) and renders
(``render``); :func:`write_report` also stores a copy in the landing bucket, which is what
``rebuild_dims`` does after each run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.cloud import bigquery

from stkpi import logs
from stkpi.config import Settings

log = logs.get(__name__)

LATEST_NAME = "reports/kpi-report.html"


def run_report_name(run_id: str) -> str:
    return f"reports/run={run_id}/kpi-report.html"


def build_report(
    client: bigquery.Client,
    settings: Settings,
    *,
    now: dt.datetime,
    weeks: int = 12,
    tenant: str | None = None,
    combined_from: Settings | None = None,
) -> str:
    """The report page as of ``now``, the tenant's present (stkpi.clock: it decides which
    week is the current one). Missing data renders as messages in place; if the page itself
    cannot be built, a page saying why is returned instead (never a blank page).
    ``tenant``, ``combined_from``: :func:`stkpi.report.data.gather`'s."""
    from stkpi.report.data import gather
    from stkpi.report.render import render_error_page, render_html

    try:
        data = gather(client, settings, weeks=weeks, now=now, tenant=tenant,
                      combined_from=combined_from)  # fmt: skip
        return render_html(data)
    except Exception as exc:
        log.exception("report failed")
        return render_error_page(f"{type(exc).__name__}: {exc}", generated_at=now)


def publish_report(landing: Any, html: str, *, run_id: str | None = None) -> list[str]:
    """Upload the page to ``reports/kpi-report.html`` (and the run's copy) of the landing
    bucket (``stkpi.landing.Landing``); returns the object names written."""
    names = [LATEST_NAME] + ([run_report_name(run_id)] if run_id else [])
    for name in names:
        landing.write_text(name, html, "text/html; charset=utf-8")
    return names


def publish_run_report(ctx: Any, run_id: str) -> list[str]:
    """After a run's rebuild (``rebuild_dims``): describe the wide tables for Looker Studio,
    build the report and upload it to the landing bucket. Best effort: a failure is logged
    and never fails the rebuild. Returns the object names written."""
    try:
        from stkpi.report.looker import describe_mart_tables

        describe_mart_tables(ctx.bigquery, ctx.settings)
        tenant = ctx.tenant.tenant_id if getattr(ctx, "tenant", None) else None
        html = build_report(ctx.bigquery, ctx.settings, now=ctx.tenant_now(), tenant=tenant)
        names = publish_report(ctx.landing, html, run_id=run_id)
    except Exception:
        log.exception("report not published", extra={"run_id": run_id})
        return []
    log.info("report published", extra={"run_id": run_id, "objects": names})
    return names
