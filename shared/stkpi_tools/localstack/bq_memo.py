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

Run as ``python -m stkpi_tools.localstack.bq_memo start ...`` with bqemulator's own
arguments (``stkpi_tools.localstack.services.start_bigquery`` does).
"""

from __future__ import annotations

import atexit
import json
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import partial
from typing import Any

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


def memoize_trees(parse_one: Callable[..., Any], memo: Memo) -> Callable[..., Any]:
    """``sqlglot.parse_one`` that parses a text once and hands out copies of its tree."""

    def memoized(sql: str, read: Any = None, dialect: Any = None, into: Any = None, **opts: Any):
        key = _key(sql, read, dialect, into, **opts)
        compute = partial(parse_one, sql, read=read, dialect=dialect, into=into, **opts)
        return _through(memo, key, compute, _always).copy()

    return memoized


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
    import sqlglot
    from bqemulator.sql.translator import SQLTranslator

    memos = {name: Memo() for name in ("parse_one", "parse", "transpile", "translate")}
    sqlglot.parse_one = memoize_trees(sqlglot.parse_one, memos["parse_one"])
    sqlglot.parse = memoize_tree_lists(sqlglot.parse, memos["parse"])
    sqlglot.transpile = memoize_texts(sqlglot.transpile, memos["transpile"])
    SQLTranslator.translate = memoize_translate(SQLTranslator.translate, memos["translate"])
    return memos


def report(memos: dict[str, Memo]) -> str:
    """One line for the emulator's log: how often each memo answered."""
    return "bq_memo: " + ", ".join(
        f"{name} {m.hits:,} hits / {m.misses:,} misses" for name, m in memos.items()
    )


def main() -> None:
    memos = install()
    atexit.register(lambda: print(report(memos), file=sys.stderr, flush=True))
    from bqemulator.cli import main as bqemulator_main

    bqemulator_main(prog_name="bqemulator")


if __name__ == "__main__":
    main()
