"""BigQuery's limits in the local BigQuery: refused as BigQuery refuses them.

bqemulator runs whatever it is sent. BigQuery does not, and a pipeline that only ever met
the emulator learns that in production, once a tenant is big or old enough (a weekly key
scan whose MERGE rewrote every ``createdOn`` partition since 2000 failed on every tenant
with more than about eleven years of history). So the local stack refuses, with
BigQuery's own words, what BigQuery refuses (limits from BigQuery's "Quotas and limits"):

- a query whose text is longer than 1,024K characters (GoogleSQL's limit on unresolved
  query length);
- a DML statement (INSERT, UPDATE, DELETE, MERGE) or a load job that writes more than 4,000
  partitions of a partitioned table ("maximum number of partitions modified by a single
  job"): the statement runs in a transaction, the partitions of the rows it wrote are
  counted (``RETURNING``), and past the limit it is rolled back and fails, as BigQuery's
  job fails with nothing written.

The emulator forgets a table's partitioning (docs/EMULATOR_GAPS.md, gap 8), so this module
remembers it from the ``CREATE TABLE ... PARTITION BY`` statements it runs (the pipeline's
raw tables are made so; a table partitioned through ``tables.insert`` is not known here and
is not limited). What it counts: the partitions rows are written to; a row an UPDATE or a
MERGE moves to another partition also rewrites the partition it leaves, which BigQuery
counts and this does not. Concurrent DML per table (2 running, 20 queued) is the IAM gate's
(``stkpi_tools.localstack.iam.dml_queue``): only the gate sees requests wait.

Installed in the emulator's process by ``stkpi_tools.localstack.bq_server``.
"""

from __future__ import annotations

import contextvars
import re
import threading
from collections.abc import Callable
from typing import Any

MAX_QUERY_CHARS = 1024 * 1024
MAX_PARTITIONS = 4000
QUERY_TOO_LONG = (
    "The query is too large. The maximum standard SQL query length is 1024.00K characters, "
    "including comments and white space characters."
)

# (project, dataset, table) -> DuckDB expression of a row's partition (None: not limited).
_PARTITIONS: dict[tuple[str, str, str], str] = {}
_LOCK = threading.Lock()
# The partition expression of the DML statement being run, for the engine's call.
_GUARDED: contextvars.ContextVar[str | None] = contextvars.ContextVar("bq_limits", default=None)
_DML = ("INSERT", "UPDATE", "DELETE", "MERGE")
_FIRST_WORD = re.compile(r"^(?:\s|--[^\n]*\n|/\*.*?\*/)*(\w+)", re.S)


class TooManyPartitions(Exception):
    """A job would write more partitions than BigQuery allows one job."""


def too_many(found: int, what: str = "query") -> str:
    return (
        f"Too many partitions produced by {what}, allowed {MAX_PARTITIONS}, "
        f"{what} produces at least {found} partitions"
    )


def partition_expression(partition_by: Any) -> str | None:
    """DuckDB SQL giving a row's partition for a BigQuery ``PARTITION BY`` expression: a
    DATE or TIMESTAMP column by day (``d``, ``DATE(ts)``, ``TIMESTAMP_TRUNC(ts, DAY)``) or
    by hour, month or year (``DATE_TRUNC(d, MONTH)``, ``TIMESTAMP_TRUNC(ts, YEAR)``). None
    for what is not a column's time unit (ingestion time ``_PARTITIONDATE``, integer
    ranges): not limited here."""
    from sqlglot import exp

    node, unit = partition_by, "day"
    if isinstance(node, exp.Date):
        node = node.this
    elif isinstance(node, (exp.TimestampTrunc, exp.DateTrunc, exp.DatetimeTrunc)):
        unit_node = node.args.get("unit")
        unit = (unit_node.name if unit_node is not None else "DAY").lower()
        node = node.this
    if isinstance(node, exp.Column):
        node = node.this
    if not isinstance(node, exp.Identifier) or node.name.upper().startswith("_PARTITION"):
        return None
    if unit not in ("day", "hour", "month", "year"):
        return None
    return f"date_trunc('{unit}', \"{node.name}\")"


def remember(tree: Any, project_id: str) -> None:
    """Remember the partitioning of a ``CREATE TABLE`` statement's table."""
    from sqlglot import exp

    if not isinstance(tree, exp.Create) or str(tree.args.get("kind", "")).upper() != "TABLE":
        return
    table = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    if not isinstance(table, exp.Table):
        return
    prop = next(iter(tree.find_all(exp.PartitionedByProperty)), None)
    expression = partition_expression(prop.this) if prop is not None else None
    key = (table.catalog or project_id, table.db, table.name)
    with _LOCK:
        if expression is None:
            _PARTITIONS.pop(key, None)
        elif not tree.args.get("exists") or key not in _PARTITIONS:
            _PARTITIONS[key] = expression


def partitioning(key: tuple[str, str, str]) -> str | None:
    with _LOCK:
        return _PARTITIONS.get(key)


def check_length(bq_sql: str) -> None:
    if len(bq_sql) > MAX_QUERY_CHARS:
        from bqemulator.domain.errors import InvalidQueryError

        raise InvalidQueryError(QUERY_TOO_LONG)


def guard_statements(run_single_sql: Callable[..., Any]) -> Callable[..., Any]:
    """``executor._run_single_sql`` that remembers partitioning from DDL and runs DML into a
    known partitioned table under the partition limit."""
    from bqemulator.jobs import executor

    async def guarded(project_id: str, bq_sql: str, *args: Any, **kwargs: Any) -> Any:
        match = _FIRST_WORD.match(bq_sql)
        word = match.group(1).upper() if match else ""
        if word != "CREATE" and word not in _DML:
            return await run_single_sql(project_id, bq_sql, *args, **kwargs)
        tree = executor._parse_for_classification(bq_sql)  # memoized, shared: read only
        if word == "CREATE":
            result = await run_single_sql(project_id, bq_sql, *args, **kwargs)
            remember(tree, project_id)
            return result
        targets = executor._dml_target_tables(tree, project_id) if tree is not None else []
        expression = next((e for e in map(partitioning, targets) if e), None)
        token = _GUARDED.set(expression)
        try:
            return await run_single_sql(project_id, bq_sql, *args, **kwargs)
        finally:
            _GUARDED.reset(token)

    return guarded


def guard_engine(fetch_arrow: Callable[..., Any]) -> Callable[..., Any]:
    """``DuckDBEngine.fetch_arrow`` that runs a guarded DML statement in a transaction,
    counts the partitions of the rows it wrote and rolls it back past the limit."""

    def fetch(self: Any, sql: str, parameters: list[Any] | None = None) -> Any:
        expression = _GUARDED.get()
        match = _FIRST_WORD.match(sql)
        if expression is None or not match or match.group(1).upper() not in _DML:
            return fetch_arrow(self, sql, parameters)
        _GUARDED.set(None)  # one statement only
        import pyarrow as pa
        from bqemulator.domain.errors import InvalidQueryError

        conn = self.connection
        returning = f"{sql.rstrip().rstrip(';')} RETURNING {expression}"
        conn.execute("BEGIN TRANSACTION")
        try:
            cursor = conn.execute(returning, parameters) if parameters else conn.execute(returning)
            rows = cursor.fetchall()
            found = len({r[0] for r in rows})
            if found > MAX_PARTITIONS:
                raise InvalidQueryError(too_many(found))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return pa.table({"Count": pa.array([len(rows)], pa.int64())})

    return fetch


def install() -> None:
    """Apply the limits in this process (the emulator's, before it starts serving)."""
    from bqemulator.jobs import executor
    from bqemulator.storage.engine import DuckDBEngine

    parse = executor._parse_script_or_raise

    def parse_checked(bq_sql: str) -> Any:
        check_length(bq_sql)
        return parse(bq_sql)

    executor._parse_script_or_raise = parse_checked
    executor._run_single_sql = guard_statements(executor._run_single_sql)
    DuckDBEngine.fetch_arrow = guard_engine(DuckDBEngine.fetch_arrow)
    _install_loads(executor)


def _install_loads(executor: Any) -> None:
    """Load jobs into a known partitioned table: in a transaction, each file through a
    temporary table whose partitions are counted before it is appended."""
    state: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
        "bq_limits_load", default=None
    )
    dispose = executor._apply_load_write_disposition
    load_path = executor._load_path_into_target
    row_count = executor._refresh_load_row_count

    def disposition(job: Any, ctx: Any) -> None:
        expression = partitioning((job.project_id, job.dataset_id, job.table_id))
        if expression is not None:
            ctx.engine.execute("BEGIN TRANSACTION")
            state.set({"expression": expression, "partitions": set()})
        try:
            dispose(job, ctx)
        except BaseException:
            _rollback(ctx)
            raise

    def _rollback(ctx: Any) -> None:
        if state.get() is not None:
            state.set(None)
            ctx.engine.execute("ROLLBACK")

    def into_target(path: str, job: Any, ctx: Any) -> None:
        doing = state.get()
        if doing is None:
            return load_path(path, job, ctx)
        temp = "_bq_limits_load"
        try:
            ctx.engine.execute(
                f"CREATE OR REPLACE TEMP TABLE {temp} AS SELECT * FROM {job.target_ref} LIMIT 0"
            )
            load_path(path, _retarget(job, temp), ctx)
            rows = ctx.engine.execute(
                f"SELECT DISTINCT {doing['expression']} FROM {temp}"
            ).fetchall()
            doing["partitions"].update(r[0] for r in rows)
            if len(doing["partitions"]) > MAX_PARTITIONS:
                raise TooManyPartitions(too_many(len(doing["partitions"]), "load job"))
            ctx.engine.execute(f"INSERT INTO {job.target_ref} SELECT * FROM {temp}")
            ctx.engine.execute(f"DROP TABLE {temp}")
        except BaseException:
            _rollback(ctx)
            raise
        return None

    def counted(job: Any, ctx: Any) -> int:
        if state.get() is not None:
            state.set(None)
            ctx.engine.execute("COMMIT")
        return row_count(job, ctx)

    executor._apply_load_write_disposition = disposition
    executor._load_path_into_target = into_target
    executor._refresh_load_row_count = counted


def _retarget(job: Any, target_ref: str) -> Any:
    from dataclasses import replace

    return replace(job, target_ref=target_ref)
