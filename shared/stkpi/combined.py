"""The KPIs of all the deployment's tenants together: the view ``${mart}.kpi_weekly_all``.

Each tenant's marts live in its own datasets (docs/TENANTS.md); the deployment's mart
dataset holds one view over all of them (SQL: sql/combined/kpi_weekly_all.sql; rules:
docs/KPI_RULES.md, "KPIs across tenants"). A view, not a table: it reads each tenant's
``kpi_weekly`` as it is now, so a tenant's rebuild is seen at once and two tenants'
rebuilds never race to rewrite one table.

The view's query names its tenants (their marts, display names, zones and week starts),
so it goes stale when the registry changes or a tenant's marts are built for the first
time (a view can only name tables that exist). :func:`refresh` recreates it then and only
then: ``stkpi tenant add`` calls it, and so does every rebuild (``stkpi.rebuild``), which is
how a tenant added before its first backfill joins once its marts exist. The view is made
through the tables API with a description that carries a fingerprint of its query, so
"stale" is one metadata read (the emulator keeps no view text to compare); replacing it on
every rebuild of every tenant would run into BigQuery's limit on metadata updates of one
table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from google.api_core.exceptions import Conflict, NotFound
from google.cloud import bigquery

from stkpi import logs, sqlfiles
from stkpi.config import Settings
from stkpi.kpi_config import sql_string
from stkpi.tenants import Tenant, default_tenant_id, read_tenants, settings_for

log = logs.get(__name__)

VIEW = "kpi_weekly_all"
SQL = "combined/kpi_weekly_all.sql"
DEFAULT_NAME = "default tenant"
DESCRIPTION = (
    "The weekly KPIs of every tenant of the deployment per region, and their sums across "
    "tenants of one time zone and week start (docs/KPI_RULES.md). Made by stkpi.combined"
)


@dataclass(frozen=True)
class Member:
    """One tenant as the view names it; ``mart`` is ``project.dataset`` of its marts."""

    tenant_id: str
    display_name: str
    time_zone: str
    weeks_start: str
    mart: str


@dataclass(frozen=True)
class Refresh:
    """What :func:`refresh` did: ``created``, ``replaced`` or ``unchanged``; the tenants
    the view sums, and those left out because their marts do not exist yet."""

    action: str
    included: tuple[str, ...]
    waiting: tuple[str, ...]


def members(client: bigquery.Client, settings: Settings) -> list[Member]:
    """The default tenant (the deployment's own settings) and every registered tenant,
    each with its own marts, time zone and week start; ``settings`` are the deployment's."""
    default = Member(
        default_tenant_id(settings) or "default",
        DEFAULT_NAME,
        settings.report_timezone,
        settings.weeks_start,
        f"{settings.gcp_project}.{settings.dataset('mart')}",
    )
    return [default] + [_member(settings, t) for t in read_tenants(client, settings)]


def _member(settings: Settings, tenant: Tenant) -> Member:
    mine = settings_for(settings, tenant)
    return Member(tenant.tenant_id, tenant.display_name.strip(), tenant.time_zone,
                  tenant.weeks_start, f"{mine.gcp_project}.{mine.dataset('mart')}")  # fmt: skip


def view_id(settings: Settings) -> str:
    return f"{settings.gcp_project}.{settings.dataset('mart')}.{VIEW}"


def render(settings: Settings, included: list[Member]) -> str:
    """The view's query over ``included`` (at least one tenant)."""
    union = "\n  UNION ALL\n".join(
        f"  SELECT {sql_string(m.tenant_id)} AS tenant_id, "
        f"{sql_string(m.display_name)} AS display_name,\n"
        f"    {sql_string(m.time_zone)} AS time_zone, {sql_string(m.weeks_start)} AS weeks_start,\n"
        "    week_start, region, kpi, kind, value, numerator, denominator\n"
        f"  FROM `{m.mart}.kpi_weekly`"
        for m in included
    )
    return sqlfiles.render(SQL, settings, tenant_union=union).strip()


def description(query: str, included: list[Member]) -> str:
    """What the view says about itself: the tenants it reads and its query's fingerprint
    (how :func:`refresh` tells a stale view)."""
    fingerprint = hashlib.sha256(query.encode()).hexdigest()[:16]
    tenants = ", ".join(m.tenant_id for m in included)
    return f"{DESCRIPTION} over tenants {tenants} (query {fingerprint})."


def refresh(client: bigquery.Client, settings: Settings) -> Refresh:
    """(Re)create the view when it is not the one the registry and the tenants' marts give
    now; ``settings`` are the deployment's. A tenant whose marts do not exist yet is left
    out (``waiting``) until a rebuild finds them built."""
    everyone = members(client, settings)
    included = [m for m in everyone if _has_marts(client, m)]
    waiting = tuple(m.tenant_id for m in everyone if m not in included)
    ids = tuple(m.tenant_id for m in included)
    if not included:
        return Refresh("unchanged", ids, waiting)
    query = render(settings, included)
    wanted = description(query, included)
    try:
        view = client.get_table(view_id(settings))
    except NotFound:
        view = None
    if view is not None and view.description == wanted:
        return Refresh("unchanged", ids, waiting)
    made = view or bigquery.Table(view_id(settings))
    made.view_query, made.description = query, wanted
    if view is not None:
        client.update_table(made, ["view_query", "description"])
        return Refresh("replaced", ids, waiting)
    try:
        client.create_table(made)
    except Conflict:  # another tenant's rebuild made it a moment ago: make it ours
        client.update_table(made, ["view_query", "description"])
    return Refresh("created", ids, waiting)


def _has_marts(client: bigquery.Client, member: Member) -> bool:
    return _exists(client, f"{member.mart}.kpi_weekly")


def refresh_after_add(client: bigquery.Client, settings: Settings) -> str:
    """``stkpi tenant add``'s step: the view made again for the new tenant list; returns the
    line that says what it holds. Never fails the add (the tenant is registered)."""
    try:
        done = refresh(client, settings)
    except Exception as exc:
        return (f"combined view {view_id(settings)} not refreshed ({type(exc).__name__}: "
                f"{str(exc)[:200]}); `stkpi kpi-build` makes it again")  # fmt: skip
    if not done.included:
        return (f"combined view {view_id(settings)}: made by the first rebuild (no tenant "
                "has marts yet)")  # fmt: skip
    line = f"combined view {view_id(settings)}: {done.action}, tenants {', '.join(done.included)}"
    if done.waiting:
        line += f"; {', '.join(done.waiting)} join it after their first rebuild (no marts yet)"
    return line


def refresh_after_rebuild(client: bigquery.Client, settings: Settings) -> Refresh | None:
    """After a tenant's rebuild: bring the view up to date if the deployment has added
    tenants (a deployment of one tenant gets no view) or already has it. Best effort, as the
    report is: the tenant's marts are built, and a view that could not be refreshed must
    not fail (and retry) the tenant's rebuild; the error is logged with the command that
    makes the view."""
    try:
        if not read_tenants(client, settings) and not _exists(client, view_id(settings)):
            return None
        done = refresh(client, settings)
    except Exception as exc:
        log.error(
            "combined view not refreshed: `stkpi kpi-build` makes it again",
            extra={"view": view_id(settings), "error": f"{type(exc).__name__}: {exc}"[:500]},
        )
        return None
    if done.action != "unchanged" or done.waiting:
        log.info(
            f"combined view {done.action}",
            extra={"view": view_id(settings), "tenants": list(done.included),
                   "waiting_for_marts": list(done.waiting)},
        )  # fmt: skip
    return done


def _exists(client: bigquery.Client, table: str) -> bool:
    try:
        client.get_table(table)
    except NotFound:
        return False
    return True
