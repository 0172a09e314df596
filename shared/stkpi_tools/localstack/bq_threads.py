"""The BigQuery emulator's one DuckDB connection, made safe for its request threads.

bqemulator runs every statement on one ``DuckDBPyConnection``. Its async routes (query
jobs, inserts, DDL) run on the event loop's thread, but its plain ``def`` routes
(``tabledata.list``, ``tables.get``, ``jobs.getQueryResults``, ...) run on Starlette's
thread pool, at the same time. A DuckDB connection holds one pending result: a statement
started on another thread closes it before its owner fetches, and the owner gets ``None``
or "closed pending query result". The emulator answers 500 and the client retries for
minutes. Several tenants' steps reading the tenant registry at once (``list_rows``, a
``tabledata.list``) made it common enough to hang runs.

DuckDB's documented answer is a cursor per thread: a connection of its own on the same
database, which sees every committed table, the loaded extensions and the registered
functions. Here the thread that started the engine keeps the connection; every other
thread gets its own cursor on first use. A cursor does not see the uncommitted writes of a
transaction on the connection (``bq_limits`` runs guarded DML in one), which is what
BigQuery's readers see too.
"""

from __future__ import annotations

import threading
from typing import Any

_OWNER = "_stkpi_owner_thread"
_LOCAL = "_stkpi_thread_cursors"


def _cursor_for_thread(engine: Any, connection: Any) -> Any:
    """``connection`` on the thread that started ``engine``; a cursor of its own on any
    other thread (one per thread and connection, kept while the thread lives)."""
    if getattr(engine, _OWNER, None) in (None, threading.get_ident()):
        return connection
    local = getattr(engine, _LOCAL)
    cached = getattr(local, "cursor", None)
    if cached is not None and cached[0] is connection:
        return cached[1]
    cursor = connection.cursor()
    cursor.execute("SET TimeZone = 'UTC'")  # as the engine sets its connection's
    local.cursor = (connection, cursor)
    return cursor


def install() -> None:
    """Patch ``DuckDBEngine`` in this process (the emulator's, before it serves)."""
    from bqemulator.storage.engine import DuckDBEngine

    if getattr(DuckDBEngine, "_stkpi_threads", False):
        return
    start = DuckDBEngine.start
    shared = DuckDBEngine.connection.fget

    async def start_owned(self: Any) -> None:
        await start(self)
        setattr(self, _LOCAL, threading.local())
        setattr(self, _OWNER, threading.get_ident())

    def connection(self: Any) -> Any:
        return _cursor_for_thread(self, shared(self))

    DuckDBEngine.start = start_owned  # type: ignore[method-assign]
    DuckDBEngine.connection = property(connection)  # type: ignore[method-assign,assignment]
    DuckDBEngine._stkpi_threads = True  # type: ignore[attr-defined]
