"""Run bqemulator with its SQL parsing memoized: the same answers, a fraction of the CPU.

bqemulator turns every statement into DuckDB SQL by parsing the text again in each of
its ~20 rewrite passes (sqlglot), and a rebuild sends the same few hundred statements on
every run, so about half of the emulator's CPU went to parsing text it had parsed before
(profiled on the chaos lab). Parsing and translation are pure functions of their inputs,
so they are remembered here, keyed by every input, and the suite runs on fewer CPU
seconds; nothing about what the emulator accepts or answers changes:

- ``sqlglot.parse_one`` / ``sqlglot.parse``: the tree of a text is kept and each caller
  gets its own copy (the rewriters edit trees in place); failures are not remembered, so
  a bad statement raises the same error every time.
- ``sqlglot.transpile``: text in, texts out.
- ``SQLTranslator.translate``: keyed by the text, the catalog schema it was given and the
  caller identity (the only inputs it reads); only successes are kept.

Installed in the emulator's process by ``stkpi_tools.localstack.bq_server``.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import partial
from types import FrameType
from typing import Any

# Callers that only read the tree they parse: audited on AUDITED_VERSION (none sets,
# replaces or transforms a node, none keeps the tree, and the helpers they hand it to do
# neither). They share the remembered tree instead of each getting a deep copy: copies
# were a quarter of the emulator's CPU on a lab's daily runs, about half of them made for
# these callers (py-spy). On any other bqemulator version every caller gets its own copy
# again (tests/unit/test_bq_memo.py).
AUDITED_VERSION = "1.4.0"
READ_ONLY_CALLERS = frozenset(
    {
        ("bqemulator.catalog.ddl_sync", "_detect_catalog_drop"),
        ("bqemulator.catalog.ddl_sync", "_detect_create_schema"),
        ("bqemulator.catalog.ddl_sync", "_detect_plain_create_table"),
        ("bqemulator.catalog.ddl_sync", "_detect_plain_create_view"),
        ("bqemulator.catalog.ddl_sync", "_extract_ddl_metadata"),
        ("bqemulator.sql.catalog_schema", "build_catalog_schema"),
        ("bqemulator.jobs.executor", "_parse_for_classification"),
        ("bqemulator.jobs.executor", "_reject_dml_on_immutable"),
        ("bqemulator.jobs.executor", "_capture_dml_snapshots"),
        ("bqemulator.jobs.routine_ddl", "detect_drop_routine"),
        ("bqemulator.jobs.ddl_result", "_parse_statement"),
    }
)

# Per memo. A rebuild sends a few hundred distinct statements, each seen as a few texts
# along the rewrite chain; a large tree is ~140 kB, so the trees stay under ~300 MB.
MAX_ENTRIES = 2048


class Memo:
    """A bounded LRU map, safe across the emulator's threads."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)


def _key(*parts: Any, **opts: Any) -> Hashable | None:
    """A hashable key of a call's arguments, or None when one cannot be hashed (then the
    call is simply not memoized)."""
    key = (parts, tuple(sorted(opts.items())))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _through(
    memo: Memo, key: Hashable | None, compute: Callable[[], Any], keep: Callable[[Any], bool]
) -> Any:
    """The remembered value of ``key``, else ``compute()`` (remembered when ``keep`` says
    so); a call whose key is None is computed every time."""
    value = memo.get(key) if key is not None else None
    if value is None:
        value = compute()
        if key is not None and keep(value):
            memo.put(key, value)
    return value


def _always(_: Any) -> bool:
    return True


def memoize_trees(
    parse_one: Callable[..., Any], memo: Memo, readers: frozenset[tuple[str, str]] = frozenset()
) -> Callable[..., Any]:
    """``sqlglot.parse_one`` that parses a text once and hands out copies of its tree; a
    caller in ``readers`` (module, function) gets the remembered tree itself."""

    def memoized(sql: str, read: Any = None, dialect: Any = None, into: Any = None, **opts: Any):
        key = _key(sql, read, dialect, into, **opts)
        compute = partial(parse_one, sql, read=read, dialect=dialect, into=into, **opts)
        tree = _through(memo, key, compute, _always)
        if key is not None and readers and _caller(sys._getframe(1)) in readers:
            return tree
        return tree.copy()

    return memoized


def _caller(frame: FrameType) -> tuple[str, str]:
    return frame.f_globals.get("__name__", ""), frame.f_code.co_name


def read_only_callers(version: str) -> frozenset[tuple[str, str]]:
    """The callers that may share trees on this bqemulator ``version`` (none but the
    audited one)."""
    return READ_ONLY_CALLERS if version == AUDITED_VERSION else frozenset()


def memoize_tree_lists(parse: Callable[..., Any], memo: Memo) -> Callable[..., Any]:
    """``sqlglot.parse``: as ``memoize_trees``, for its list of statements."""

    def memoized(sql: str, read: Any = None, dialect: Any = None, **opts: Any):
        key = _key(sql, read, dialect, **opts)
        compute = partial(parse, sql, read=read, dialect=dialect, **opts)
        return [t.copy() if t is not None else None for t in _through(memo, key, compute, _always)]

    return memoized


def memoize_texts(transpile: Callable[..., list[str]], memo: Memo) -> Callable[..., list[str]]:
    """``sqlglot.transpile``: strings in, a fresh list of the same strings out."""

    def memoized(sql: str, *args: Any, **opts: Any) -> list[str]:
        compute = partial(transpile, sql, *args, **opts)
        return list(_through(memo, _key(sql, *args, **opts), compute, _always))

    return memoized


def memoize_translate(translate: Callable[..., Any], memo: Memo) -> Callable[..., Any]:
    """``SQLTranslator.translate`` keyed by text, schema and caller; successes only."""
    from bqemulator.domain.result import Ok

    def memoized(self: Any, bq_sql: str, *, schema: Any = None, caller: Any = None, **kw: Any):
        try:
            key = _key(bq_sql, json.dumps(schema, sort_keys=True, default=str), caller, **kw)
        except (TypeError, ValueError):
            key = None
        compute = partial(translate, self, bq_sql, schema=schema, caller=caller, **kw)
        return _through(memo, key, compute, lambda result: isinstance(result, Ok))

    return memoized


def install() -> dict[str, Memo]:
    """Memoize sqlglot's parsing and bqemulator's translation in this process; returns the
    memos (their hit counts) by name."""
    import bqemulator
    import sqlglot
    from bqemulator.sql.translator import SQLTranslator

    memos = {name: Memo() for name in ("parse_one", "parse", "transpile", "translate")}
    readers = read_only_callers(bqemulator.__version__)
    sqlglot.parse_one = memoize_trees(sqlglot.parse_one, memos["parse_one"], readers)
    sqlglot.parse = memoize_tree_lists(sqlglot.parse, memos["parse"])
    sqlglot.transpile = memoize_texts(sqlglot.transpile, memos["transpile"])
    SQLTranslator.translate = memoize_translate(SQLTranslator.translate, memos["translate"])
    return memos


def report(memos: dict[str, Memo]) -> str:
    """One line for the emulator's log: how often each memo answered."""
    return "bq_memo: " + ", ".join(
        f"{name} {m.hits:,} hits / {m.misses:,} misses" for name, m in memos.items()
    )
