"""BigQuery's concurrent DML limit per table, at the gate: 2 running, 20 queued, then refused.

BigQuery runs at most 2 mutating DML statements (UPDATE, DELETE, MERGE) on one table at a
time and queues up to 20 more; a statement beyond those is refused ("Too many DML
statements outstanding against table ..., limit is 20"). bqemulator runs one statement at
a time and queues any number, so a design that floods a table with MERGEs passes locally
and fails in the cloud. The gate sees each statement from the moment it is sent to the
moment it is answered (the emulator answers a job when it has run it), which is exactly
BigQuery's running + queued; so it keeps that count per table and refuses a statement
that would make it more than 22, as BigQuery does, before the emulator sees it.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

RUNNING = 2
QUEUED = 20
OUTSTANDING = RUNNING + QUEUED

Table = tuple[str, str, str]


def error_json(exc: TooManyDml) -> bytes:
    """BigQuery's answer to a statement its DML queue has no place for."""
    message = str(exc)
    return json.dumps(
        {
            "error": {
                "code": 400,
                "message": message,
                "status": "INVALID_ARGUMENT",
                "errors": [{"message": message, "domain": "global", "reason": "resourcesExceeded"}],
            }
        }
    ).encode()


class TooManyDml(Exception):
    """A mutating DML statement beyond the table's running and queued ones."""

    def __init__(self, table: Table) -> None:
        self.table = table
        project, dataset, name = table
        super().__init__(
            "Resources exceeded during query execution: Too many DML statements outstanding "
            f"against table {project}:{dataset}.{name}, limit is {QUEUED}."
        )


class DmlQueue:
    """Mutating DML statements outstanding (running or queued) per table; thread-safe."""

    def __init__(self, limit: int = OUTSTANDING) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._outstanding: Counter[Table] = Counter()
        self.refused = 0

    def acquire(self, tables: Sequence[Table]) -> None:
        """Take a place on each of ``tables`` for one statement, or raise ``TooManyDml``
        (taking none) when one of them has ``limit`` statements outstanding already."""
        with self._lock:
            full = next((t for t in tables if self._outstanding[t] >= self.limit), None)
            if full is not None:
                self.refused += 1
                raise TooManyDml(full)
            for t in tables:
                self._outstanding[t] += 1

    def release(self, tables: Sequence[Table]) -> None:
        """Give back the places ``acquire`` took (the statement was answered)."""
        with self._lock:
            for t in tables:
                self._outstanding[t] -= 1
                if not self._outstanding[t]:
                    del self._outstanding[t]

    def outstanding(self) -> dict[Table, int]:
        with self._lock:
            return dict(self._outstanding)


def query_of(
    path: str, body: Mapping[str, Any] | None
) -> tuple[str, str, tuple[str, str] | None] | None:
    """(SQL, project, default dataset) of a jobs.insert query job or a jobs.query request,
    else None."""
    if not body:
        return None
    parts = path.rstrip("/").split("/")
    # /bigquery/v2/projects/{p}/jobs  or  /bigquery/v2/projects/{p}/queries
    if len(parts) < 2 or parts[-1] not in ("jobs", "queries") or "projects" not in parts:
        return None
    project = parts[parts.index("projects") + 1]
    if parts[-1] == "jobs":
        query = (body.get("configuration") or {}).get("query") or {}
        sql = query.get("query")
        default = query.get("defaultDataset")
    else:
        sql = body.get("query")
        default = body.get("defaultDataset")
    if not isinstance(sql, str):
        return None
    ds = (
        (str(default.get("projectId") or project), str(default["datasetId"]))
        if isinstance(default, dict) and default.get("datasetId")
        else None
    )
    return sql, project, ds


@lru_cache(maxsize=4096)
def mutating_targets(sql: str, project: str, default: tuple[str, str] | None) -> tuple[Table, ...]:
    """The tables an UPDATE, DELETE or MERGE in ``sql`` writes (each once)."""
    head = sql.lstrip().upper()
    if not any(word in head for word in ("UPDATE", "DELETE", "MERGE")):
        return ()
    import sqlglot
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(sql, dialect="bigquery") if s is not None]
    except sqlglot.errors.ParseError:
        return ()  # the emulator reports it as the query's own error
    out: list[Table] = []
    for stmt in statements:
        if not isinstance(stmt, (exp.Update, exp.Delete, exp.Merge)):
            continue
        table = stmt.this
        if not isinstance(table, exp.Table):
            continue
        parts = [p for p in (table.catalog, table.db, table.name) if p]
        if len(parts) == 1 and "." in parts[0]:
            parts = parts[0].split(".")
        if len(parts) == 3:
            ref = (parts[0], parts[1], parts[2])
        elif len(parts) == 2:
            ref = (project, parts[0], parts[1])
        elif default is not None:
            ref = (default[0], default[1], parts[0])
        else:
            continue
        if ref not in out:
            out.append(ref)
    return tuple(out)
