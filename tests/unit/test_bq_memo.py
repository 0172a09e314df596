"""The emulator's parse memo gives every caller what the unmemoized call would, once per text."""

from __future__ import annotations

import importlib
import inspect

import bqemulator
import pytest
import sqlglot
from bqemulator.domain.result import Err, Ok
from bqemulator.sql.translator import SQLTranslator

from stkpi_tools.localstack.bq_memo import (
    AUDITED_VERSION,
    READ_ONLY_CALLERS,
    Memo,
    memoize_texts,
    memoize_translate,
    memoize_tree_lists,
    memoize_trees,
    read_only_callers,
)

SQL = "SELECT a, SAFE_DIVIDE(b, c) AS r FROM `p.d.t` WHERE a > 1"


def counting(fn):
    calls: list[tuple] = []

    def wrapped(*args, **kwargs):
        calls.append(args)
        return fn(*args, **kwargs)

    return wrapped, calls


def test_a_text_is_parsed_once_and_every_caller_gets_its_own_tree() -> None:
    parse_one, calls = counting(sqlglot.parse_one)
    memoized = memoize_trees(parse_one, Memo())
    first = memoized(SQL, read="bigquery")
    first.find(sqlglot.exp.Column).replace(sqlglot.exp.column("edited"))  # a rewriter's edit
    second = memoized(SQL, read="bigquery")
    assert len(calls) == 1
    assert second.sql("bigquery") == sqlglot.parse_one(SQL, read="bigquery").sql("bigquery")
    assert "edited" not in second.sql("bigquery") and "edited" in first.sql("bigquery")
    memoized("SELECT a FROM t", read="bigquery")
    memoized("SELECT a FROM t", read="duckdb")  # another dialect is another input
    assert len(calls) == 3


def test_a_text_that_does_not_parse_fails_every_time() -> None:
    parse_one, calls = counting(sqlglot.parse_one)
    memoized = memoize_trees(parse_one, Memo())
    for _ in range(2):
        with pytest.raises(sqlglot.errors.ParseError):
            memoized("SELECT FROM WHERE (", read="bigquery")
    assert len(calls) == 2


def test_statement_lists_and_transpiled_texts_are_remembered() -> None:
    parse, parse_calls = counting(sqlglot.parse)
    trees = memoize_tree_lists(parse, Memo())
    a = trees("SELECT 1; SELECT 2", read="bigquery")
    b = trees("SELECT 1; SELECT 2", read="bigquery")
    assert len(parse_calls) == 1 and [t.sql() for t in a] == [t.sql() for t in b]
    assert all(x is not y for x, y in zip(a, b, strict=True))

    transpile, calls = counting(sqlglot.transpile)
    texts = memoize_texts(transpile, Memo())
    out = texts(SQL, read="bigquery", write="duckdb")
    out.append("caller's own list")
    assert texts(SQL, read="bigquery", write="duckdb") == sqlglot.transpile(
        SQL, read="bigquery", write="duckdb"
    )
    assert len(calls) == 1


def test_translation_is_keyed_by_text_schema_and_caller_and_keeps_successes_only() -> None:
    raw = SQLTranslator.translate
    translate, calls = counting(raw)
    memoized = memoize_translate(translate, Memo())
    tr = SQLTranslator()
    schema = {"t": {"a": "BIGINT", "b": "DOUBLE", "c": "DOUBLE"}}
    first = memoized(tr, SQL, schema=schema)
    assert isinstance(first, Ok) and first == raw(tr, SQL, schema=schema)
    assert memoized(tr, SQL, schema=dict(schema)) is first  # an equal schema: remembered
    assert len(calls) == 1
    memoized(tr, SQL, schema={"t": {"a": "VARCHAR", "b": "DOUBLE", "c": "DOUBLE"}})
    memoized(tr, SQL, schema=None)
    assert len(calls) == 3  # another schema, or none, is another input
    bad = "SELECT ML.PREDICT(MODEL m, TABLE t)"
    assert isinstance(memoized(tr, bad), Err) and isinstance(memoized(tr, bad), Err)
    assert len(calls) == 5  # an error is produced again, not remembered


def test_the_memo_forgets_the_least_recently_used_beyond_its_size() -> None:
    memo = Memo(max_entries=2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1  # a is now the most recent
    memo.put("c", 3)
    assert memo.get("b") is None and memo.get("a") == 1 and memo.get("c") == 3


def test_only_the_audited_readers_share_the_remembered_tree() -> None:
    parse_one, calls = counting(sqlglot.parse_one)
    here = (__name__, "a_reader")
    memoized = memoize_trees(parse_one, Memo(), frozenset({here}))

    def a_reader():
        return memoized(SQL, read="bigquery")

    def an_editor():
        return memoized(SQL, read="bigquery")

    shared = a_reader()
    assert a_reader() is shared  # the reader gets the remembered tree itself
    own = an_editor()
    assert own is not shared and own.sql("bigquery") == shared.sql("bigquery")
    own.find(sqlglot.exp.Column).replace(sqlglot.exp.column("edited"))
    assert "edited" not in a_reader().sql("bigquery")  # an edit never reaches the memo
    assert len(calls) == 1


def test_the_readers_are_those_of_the_pinned_bqemulator_and_only_of_it() -> None:
    # The audit holds for one version: on another, every caller gets its own copy. When
    # the pin moves, re-read each reader (no set/replace/transform on the tree, nothing
    # kept) and update AUDITED_VERSION.
    assert bqemulator.__version__ == AUDITED_VERSION
    assert read_only_callers(AUDITED_VERSION) == READ_ONLY_CALLERS
    assert read_only_callers("9.9.9") == frozenset()
    for module_name, function in sorted(READ_ONLY_CALLERS):
        fn = getattr(importlib.import_module(module_name), function)
        assert "sqlglot.parse_one(" in inspect.getsource(fn), (module_name, function)
