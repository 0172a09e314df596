"""GoogleSQL (a query job's or jobs.query's text) -> the data permissions it needs (pure).

Facts (BigQuery IAM permissions reference, per SQL statement): a query needs
``tables.getData`` on every table it reads, ``tables.updateData`` on the target of INSERT /
UPDATE / DELETE / MERGE / TRUNCATE (UPDATE / DELETE / MERGE also read it: ``getData``),
``tables.create`` on the dataset for CREATE TABLE / VIEW (checked even when ``IF NOT
EXISTS`` finds the table), ``tables.update`` + ``updateData`` for CREATE OR REPLACE,
``tables.update`` for ALTER, ``tables.delete`` for DROP, ``datasets.create`` on the project
for CREATE SCHEMA, ``storage.objects.create`` for EXPORT DATA. INFORMATION_SCHEMA: dataset
views -> ``tables.list`` + ``tables.get`` on the dataset; ``JOBS_BY_USER`` -> ``jobs.list``,
other ``JOBS*`` views -> ``jobs.listAll`` on the project; ``SCHEMATA*`` -> ``datasets.get``
on the project. ``jobs.create`` itself is the REST rules' (``rules_bigquery``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from stkpi_tools.localstack.iam import policy
from stkpi_tools.localstack.iam.policy import Check, NoRule, dataset, gcs_object, project, table

# Load the BigQuery dialect now, in the importing thread: sqlglot loads dialects on first
# use, and the gate's first requests arrive on several threads at once. A CI run saw one
# parse `stkpi-local` in backticks as if without the dialect and deny a load's query.
sqlglot.Dialect.get_or_raise("bigquery")


@dataclass
class _Script:
    project: str
    default: tuple[str, str] | None
    temp: set[str] = field(default_factory=set)  # temp tables created by the script


def _name_parts(t: exp.Table) -> list[str]:
    parts: list[str] = []
    for ident in t.parts:
        parts.extend(ident.name.split("."))
    return [x for x in parts if x]


_JOBS_USER = {"JOBS_BY_USER"}
_DATASET_ROUTINE_VIEWS = {"ROUTINES", "ROUTINE_OPTIONS", "PARAMETERS"}


def _information_schema(parts: list[str], i: int, s: _Script) -> list[Check]:
    prefix, view = parts[:i], (parts[i + 1].upper() if i + 1 < len(parts) else "")
    region = bool(prefix) and prefix[-1].lower().startswith("region-")
    if region or (not prefix and s.default is None):
        p = prefix[0] if len(prefix) == 2 else s.project
        if view.startswith("JOBS"):
            perm = "bigquery.jobs.list" if view in _JOBS_USER else "bigquery.jobs.listAll"
            return [(perm, project(p))]
        if view.startswith("SCHEMATA"):
            return [("bigquery.datasets.get", project(p))]
        return [("bigquery.tables.list", project(p)), ("bigquery.tables.get", project(p))]
    if len(prefix) == 2:
        p, d = prefix
    elif len(prefix) == 1:
        p, d = s.project, prefix[0]
    elif not prefix and s.default:
        p, d = s.default
    else:
        raise NoRule(f"iam gate: cannot resolve {'.'.join(parts)}")
    ds = dataset(p, d)
    if view in _DATASET_ROUTINE_VIEWS:
        return [("bigquery.routines.list", ds), ("bigquery.routines.get", ds)]
    return [("bigquery.tables.list", ds), ("bigquery.tables.get", ds)]


def _resolve(t: exp.Table, s: _Script, ctes: set[str]) -> tuple[str, str, str] | None:
    """(project, dataset, table) of a table reference; None for CTEs, temp tables and
    unqualified names without a default dataset (BigQuery rejects those itself)."""
    parts = _name_parts(t)
    if len(parts) == 1:
        name = parts[0]
        if name.lower() in ctes or name in s.temp or s.default is None:
            return None
        return (*s.default, name)
    if len(parts) == 2:
        if parts[0] == "_SESSION":
            return None
        return s.project, parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise NoRule(f"iam gate: cannot resolve table name {'.'.join(parts)}")


def _meta(t: exp.Table, s: _Script) -> list[Check] | None:
    """Checks for INFORMATION_SCHEMA / __TABLES__ references; None for plain tables."""
    parts = _name_parts(t)
    for i, part in enumerate(parts):
        if part.upper() == "INFORMATION_SCHEMA":
            return _information_schema(parts, i, s)
    if parts and parts[-1].upper() in ("__TABLES__", "__TABLES_SUMMARY__"):
        if len(parts) == 3:
            ds = dataset(parts[0], parts[1])
        elif len(parts) == 2:
            ds = dataset(s.project, parts[0])
        elif s.default:
            ds = dataset(*s.default)
        else:
            return []
        return [("bigquery.tables.list", ds)]
    return None


def _reads(stmt: exp.Expression, s: _Script, skip: Iterable[exp.Table] = ()) -> list[Check]:
    """``tables.getData`` on every table ``stmt`` references, except ``skip`` (targets)."""
    skipped = {id(t) for t in skip}
    ctes = {c.alias_or_name.lower() for c in stmt.find_all(exp.CTE)}
    out: list[Check] = []
    for t in stmt.find_all(exp.Table):
        if id(t) in skipped or t.find_ancestor(exp.UserDefinedFunction) is not None:
            continue
        if not isinstance(t.this, exp.Identifier):
            continue  # table-valued function calls and the like
        meta = _meta(t, s)
        if meta is not None:
            out += meta
            continue
        ref = _resolve(t, s, ctes)
        if ref is not None:
            out.append(("bigquery.tables.getData", table(*ref)))
    return out


def _target(node: exp.Expression | None) -> exp.Table | None:
    while isinstance(node, (exp.Schema, exp.UserDefinedFunction)):
        node = node.this
    return node if isinstance(node, exp.Table) else None


def _required_target(
    node: exp.Expression | None, what: str, s: _Script
) -> tuple[exp.Table, tuple[str, str, str] | None]:
    t = _target(node)
    if t is None:
        raise NoRule(f"iam gate: cannot find the target of {what}")
    return t, _resolve(t, s, set())


def _is_temporary(stmt: exp.Create) -> bool:
    props = stmt.args.get("properties")
    return bool(props and any(isinstance(p, exp.TemporaryProperty) for p in props.expressions))


def _dataset_of(node: exp.Expression | None, s: _Script) -> tuple[str, str]:
    t = node if isinstance(node, exp.Table) else None
    parts = _name_parts(t) if t is not None else []
    if len(parts) == 1:
        return s.project, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise NoRule("iam gate: cannot resolve the dataset of a schema statement")


def _statement(stmt: exp.Expression, s: _Script) -> list[Check]:
    if isinstance(stmt, exp.Query):
        return _reads(stmt, s)
    if isinstance(stmt, exp.Insert):
        t, ref = _required_target(stmt.this, "INSERT", s)
        own = [("bigquery.tables.updateData", table(*ref))] if ref else []
        return own + _reads(stmt, s, skip=[t])
    if isinstance(stmt, (exp.Update, exp.Delete, exp.Merge)):
        node = stmt.this if isinstance(stmt.this, exp.Table) else None
        if node is None and stmt.args.get("tables"):
            node = stmt.args["tables"][0]
        t, ref = _required_target(node, type(stmt).__name__.upper(), s)
        own = (
            [("bigquery.tables.updateData", table(*ref)), ("bigquery.tables.getData", table(*ref))]
            if ref
            else []
        )
        return own + _reads(stmt, s, skip=[t])
    if isinstance(stmt, exp.TruncateTable):
        out: list[Check] = []
        for t in stmt.expressions:
            ref = _resolve(t, s, set()) if isinstance(t, exp.Table) else None
            if ref:
                out.append(("bigquery.tables.updateData", table(*ref)))
        return out
    if isinstance(stmt, exp.Create):
        return _create(stmt, s)
    if isinstance(stmt, exp.Drop):
        return _drop(stmt, s)
    if isinstance(stmt, exp.Alter):
        kind = str(stmt.args.get("kind") or "TABLE").upper()
        if kind in ("TABLE", "VIEW", "MATERIALIZED VIEW"):
            _, ref = _required_target(stmt.this, "ALTER", s)
            if not ref:
                return []
            return [("bigquery.tables.get", table(*ref)), ("bigquery.tables.update", table(*ref))]
        raise NoRule(f"iam gate: no rule for ALTER {kind}")
    if isinstance(stmt, exp.Export):
        out = _reads(stmt, s)
        for prop in stmt.find_all(exp.Property):
            if prop.name.lower() == "uri":
                b, name = policy.split_gcs_uri(prop.args["value"].name)
                out.append(("storage.objects.create", gcs_object(s.project, b, name)))
        return out
    if isinstance(stmt, (exp.Declare, exp.Set)):
        return _reads(stmt, s)
    if isinstance(stmt, (exp.Transaction, exp.Commit, exp.Rollback)):
        return []
    raise NoRule(
        f"iam gate: no rule for SQL statement {type(stmt).__name__}: {stmt.sql('bigquery')[:200]}"
    )


def _create(stmt: exp.Create, s: _Script) -> list[Check]:
    kind = str(stmt.args.get("kind") or "").upper()
    replace = bool(stmt.args.get("replace"))
    if kind == "SCHEMA":
        p, d = _dataset_of(stmt.this, s)
        out = [("bigquery.datasets.create", project(p))]
        return out + ([("bigquery.datasets.update", dataset(p, d))] if replace else [])
    if kind in ("FUNCTION", "PROCEDURE", "TABLE FUNCTION"):
        if _is_temporary(stmt):
            return _reads(stmt, s)
        t, ref = _required_target(stmt.this, f"CREATE {kind}", s)
        if not ref:
            return _reads(stmt, s, skip=[t])
        out = [("bigquery.routines.create", dataset(*ref[:2]))]
        if replace:
            out.append(("bigquery.routines.update", table(*ref).replace("/tables/", "/routines/")))
        return out + _reads(stmt, s, skip=[t])
    if kind in ("TABLE", "VIEW", "MATERIALIZED VIEW"):
        t, ref = _required_target(stmt.this, f"CREATE {kind}", s)
        if _is_temporary(stmt) or ref is None:
            s.temp.add(_name_parts(t)[-1])
            return _reads(stmt, s, skip=[t])
        out = [("bigquery.tables.create", dataset(*ref[:2]))]
        if replace:
            out.append(("bigquery.tables.update", table(*ref)))
            if kind == "TABLE":
                out.append(("bigquery.tables.updateData", table(*ref)))
        return out + _reads(stmt, s, skip=[t])
    raise NoRule(f"iam gate: no rule for CREATE {kind or '?'}")


def _drop(stmt: exp.Drop, s: _Script) -> list[Check]:
    kind = str(stmt.args.get("kind") or "").upper()
    if kind == "SCHEMA":
        p, d = _dataset_of(stmt.this, s)
        out = [("bigquery.datasets.delete", dataset(p, d))]
        return out + (
            [("bigquery.tables.delete", dataset(p, d))] if stmt.args.get("cascade") else []
        )
    if kind in ("TABLE", "VIEW", "MATERIALIZED VIEW", "FUNCTION", "PROCEDURE", "TABLE FUNCTION"):
        _, ref = _required_target(stmt.this, f"DROP {kind}", s)
        if ref is None:
            return []
        if kind in ("FUNCTION", "PROCEDURE", "TABLE FUNCTION"):
            return [("bigquery.routines.delete", table(*ref).replace("/tables/", "/routines/"))]
        return [("bigquery.tables.delete", table(*ref))]
    raise NoRule(f"iam gate: no rule for DROP {kind or '?'}")


def sql_checks(sql: str, p: str, default_dataset: tuple[str, str] | None = None) -> list[Check]:
    """Data permissions a GoogleSQL query or script needs (``jobs.create`` excluded).

    Remembered per (text, project, default dataset), of which it is a pure function: every
    rebuild sends the gate the same few hundred statements, and parsing one is most of the
    cost of judging it. A text that cannot be judged raises every time."""
    return list(_checks_of(sql, p, default_dataset))


@functools.lru_cache(maxsize=2048)
def _checks_of(sql: str, p: str, default_dataset: tuple[str, str] | None) -> tuple[Check, ...]:
    try:
        statements = [st for st in sqlglot.parse(sql, dialect="bigquery") if st is not None]
    except SqlglotError as exc:
        raise NoRule(
            f"iam gate: cannot judge SQL that does not parse ({exc}): {sql[:200]}"
        ) from None
    s = _Script(project=p, default=default_dataset)
    out: list[Check] = []
    for stmt in statements:
        if isinstance(stmt, exp.Command):
            raise NoRule(f"iam gate: cannot judge SQL statement {stmt.sql('bigquery')[:200]!r}")
        out += _statement(stmt, s)
    return tuple(dict.fromkeys(out))
