"""A failed statement sent through ``jobs.query`` is an HTTP error, as on BigQuery.

The runtime sends its reads, DDL and most DML through ``Client.query_and_wait`` (one
``jobs.query`` request instead of an insert and its polls). BigQuery answers a statement
that fails there (a missing table, bad SQL) with the error itself, which the client
raises (``NotFound``, ``BadRequest``). bqemulator 1.4.0 instead answers ``200`` with the
error in a side list the client does not read, and no rows: a query of a missing table
would look like an empty one, and a typo in a SQL file would pass locally. Here the
error the emulator already built is raised from that route instead, so the client sees
what BigQuery sends (``tests/integration/test_emulator_gaps.py``, gap 12).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

SYNC_ROUTE = ("bqemulator.api.routes.jobs", "query")


def raise_on_the_sync_route(to_error_result: Callable[[Any], dict]) -> Callable[[Any], dict]:
    """``_domain_error_to_error_result`` that re-raises the error when the synchronous
    ``jobs.query`` route asks (the job-insert route keeps recording it on the job)."""

    def converted(exc: Any) -> dict:
        frame = sys._getframe(1)
        if (frame.f_globals.get("__name__"), frame.f_code.co_name) == SYNC_ROUTE:
            raise exc
        return to_error_result(exc)

    return converted


def install() -> None:
    """Apply it in this process (the emulator's, before it starts serving)."""
    from bqemulator.api.routes import jobs

    jobs._domain_error_to_error_result = raise_on_the_sync_route(jobs._domain_error_to_error_result)
