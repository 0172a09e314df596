"""Only the synchronous jobs.query route of the emulator raises a failed statement; the
job-insert route keeps recording it on the job, as BigQuery does."""

from __future__ import annotations

import inspect

import pytest
from bqemulator.api.routes import jobs

from stkpi_tools.localstack.bq_query_errors import SYNC_ROUTE, raise_on_the_sync_route


def test_the_sync_route_raises_and_every_other_caller_gets_the_error_result() -> None:
    seen: list[Exception] = []

    def to_error_result(exc: Exception) -> dict:
        seen.append(exc)
        return {"reason": "notFound", "message": str(exc)}

    convert = raise_on_the_sync_route(to_error_result)
    routes = {"__name__": SYNC_ROUTE[0], "convert": convert}
    exec("def query(exc):\n    return convert(exc)\n", routes)  # the route, by name and module
    exec("def insert_job(exc):\n    return convert(exc)\n", routes)
    with pytest.raises(LookupError, match="no table"):
        routes["query"](LookupError("no table"))
    assert seen == []
    assert routes["insert_job"](LookupError("no table"))["reason"] == "notFound"


def test_the_emulator_still_hides_the_error_there() -> None:
    # When bqemulator raises from jobs.query itself, this fails: bq_query_errors can go.
    source = inspect.getsource(jobs.query)
    assert "_domain_error_to_error_result(exc)" in source
    assert '"errors": [error_result]' in source
    assert (jobs.query.__module__, jobs.query.__name__) == SYNC_ROUTE
