"""No time-travel copies in the local BigQuery: the pipeline never reads a table's past.

bqemulator keeps BigQuery's time travel by copying the whole table into a snapshot after
every write (each load job, MERGE, streaming insert, CREATE OR REPLACE), inside its
global write lock. On the pipeline's traffic that is pure cost: a run's streamed state
rows copy the growing ops tables once per insert, every MERGE copies its raw table, and
every other write waits behind the copy. Nothing in ``sql/`` or the runtime uses
``FOR SYSTEM_TIME AS OF`` (``tests/unit/test_bq_snapshots.py`` keeps it that way), so the
local stack takes no automatic snapshots.

Time travel is then refused, loudly, rather than answered from the live table (what
bqemulator does for a table without snapshots): a query that reads a table's past fails
with a message naming this module, so code that starts to need it cannot pass locally on
a wrong answer. ``CREATE SNAPSHOT TABLE`` (a snapshot someone asked for) works as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

REFUSAL = (
    "FOR SYSTEM_TIME AS OF is not available on the local stack: its BigQuery takes no "
    "time-travel snapshots (stkpi_tools.localstack.bq_snapshots); the pipeline never reads "
    "a table's past"
)


def skip_automatic(capture: Callable[..., Any]) -> Callable[..., Any]:
    """``SnapshotManager.capture`` that takes only the snapshots asked for (``USER``)."""

    def captured(self: Any, project_id: str, dataset_id: str, table_id: str, *, kind="AUTO"):
        if kind == "AUTO":
            return None
        return capture(self, project_id, dataset_id, table_id, kind=kind)

    return captured


def refuse_time_travel(rewrite: Callable[..., str]) -> Callable[..., str]:
    """``rewrite_for_system_time`` that refuses a query reading a table's past."""
    from bqemulator.domain.errors import InvalidQueryError

    def refused(bq_sql: str, *args: Any, **kwargs: Any) -> str:
        if reads_the_past(bq_sql):
            raise InvalidQueryError(REFUSAL)
        return rewrite(bq_sql, *args, **kwargs)

    return refused


def reads_the_past(bq_sql: str) -> bool:
    """True when a table in ``bq_sql`` carries ``FOR SYSTEM_TIME AS OF`` (a column or a
    string that merely says SYSTEM_TIME does not count)."""
    if "SYSTEM_TIME" not in bq_sql.upper():
        return False
    import sqlglot
    from sqlglot import exp

    try:
        trees = sqlglot.parse(bq_sql, read="bigquery")
    except sqlglot.errors.ParseError:
        return False  # the translator reports it as the query's own error
    return any(
        table.args.get("version") is not None
        for tree in trees
        if tree is not None
        for table in tree.find_all(exp.Table)
    )


def install() -> None:
    """Apply both in this process (the emulator's, before it starts serving)."""
    from bqemulator.sql import inner_query
    from bqemulator.versioning.snapshots import SnapshotManager

    SnapshotManager.capture = skip_automatic(SnapshotManager.capture)
    inner_query.rewrite_for_system_time = refuse_time_travel(inner_query.rewrite_for_system_time)
