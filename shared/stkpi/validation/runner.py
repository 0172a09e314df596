"""Runs every declared check (stkpi.validation.checks), each subject through a guard, logs
each result in the log contract and stores them.

A check that cannot run (a missing table, an emulator error) is RED with its error and
the queries to run by hand, never a crash that hides the other checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from google.api_core.exceptions import NotFound
from google.cloud import bigquery

from stkpi import log_contract, logs
from stkpi.config import Settings
from stkpi.validation.checks import CHECKS, Check
from stkpi.validation.config import ValidationConfig
from stkpi.validation.context import Context, DeadLetterCounter
from stkpi.validation.fmt import sql_path
from stkpi.validation.result import RED, CheckResult
from stkpi.validation.store import store_results

log = logs.get(__name__)


def run_validations(
    client: bigquery.Client,
    settings: Settings,
    *,
    now: dt.datetime,
    wall_now: dt.datetime | None = None,
    config: ValidationConfig | None = None,
    run_id: str = "adhoc",
    store: bool = True,
    dead_letters: DeadLetterCounter | None = None,
) -> list[CheckResult]:
    """Run every check as of ``now`` (the tenant's present, stkpi.clock; ``wall_now`` the
    machine's, default ``now``: see :class:`Context`), log one line per check (:mod:`stkpi.log_contract`: the alerts
    count them) and store the results in ``${ops}.validation_results`` when ``store``.

    ``dead_letters``: a callable returning dead-lettered message counts per topic (the CLI
    passes one for the local stack); without it the dead-letter check is left out.
    """
    if now.tzinfo is None or (wall_now is not None and wall_now.tzinfo is None):
        raise ValueError("now and wall_now must be timezone-aware")
    ctx = Context(client, settings, now, config or ValidationConfig(), dead_letters, wall_now)
    results = run_checks(ctx)
    # Logged before storing: a failing insert must not silence the alerts.
    log_contract.log_validations(results, run_id=run_id)
    if store:
        # A pass is known by when it ran (the report shows the latest): the machine's time,
        # since the tenant's clock may stand still between passes.
        store_results(client, settings, results, run_id=run_id, checked_at=ctx.machine_now)
    return results


def run_checks(ctx: Context, checks: Sequence[Check] = CHECKS) -> list[CheckResult]:
    """Every subject of every check, in the catalogue's order."""
    out: list[CheckResult] = []
    for check in checks:
        out += run_check(ctx, check)
    return out


def run_check(ctx: Context, check: Check) -> list[CheckResult]:
    """One check over its subjects, after its shared measurement (if it has one)."""
    out: list[CheckResult] = []
    shared: Mapping[str, Any] = {}
    if check.shared is not None:
        spec = check.shared
        loaded: list[Mapping[str, Any]] = []

        def load() -> list[CheckResult]:
            loaded.append(spec.load(ctx))
            return []

        out += guard(spec.name, (spec.sql,), load)
        if loaded:
            shared = loaded[0]
        elif spec.required:
            return out  # its RED says why; the subjects would only repeat it
    if_missing = None if check.if_missing is None else partial(check.if_missing, ctx)
    for subject in check.subjects(ctx):

        def one(subject: Any = subject) -> list[CheckResult]:
            judged = check.judge(**check.measure(ctx, subject, shared))
            return judged if isinstance(judged, list) else [judged]

        out += guard(
            check.name.format(subject=subject),
            [sql_path(s.format(subject=subject)) for s in check.sql],
            one,
            if_missing=if_missing,
        )
    return out


def guard(
    name: str,
    sql: Sequence[str],
    fn: Callable[[], list[CheckResult]],
    *,
    if_missing: Callable[[Exception], list[CheckResult]] | None = None,
) -> list[CheckResult]:
    """``fn``'s results, or one RED naming the error and the queries ``sql`` to run by hand
    (``if_missing``'s results when a table is not found and the check says what that
    means)."""
    try:
        return fn()
    except Exception as exc:  # one broken check must not hide the others
        if if_missing is not None and isinstance(exc, NotFound):
            return if_missing(exc)
        log.warning(
            "validation check failed to run",
            extra={log_contract.CHECK_NAME: name, "error": str(exc)},
        )
        where = ", ".join(sql) or "its measurement"
        return [
            CheckResult(
                name,
                RED,
                f"check could not run: {type(exc).__name__}: {str(exc)[:300]}",
                {},
                {},
                f"{where}; run it by hand to see the error",
            )
        ]
