"""BigQuery REST call -> the IAM checks Google makes (pure: no I/O).

Paths are those the official client sends to ``BIGQUERY_EMULATOR_HOST``:
``/bigquery/v2/projects/{p}/...`` and ``/upload/bigquery/v2/projects/{p}/jobs``. Facts
(BigQuery IAM permissions reference, per method and per SQL statement):

- datasets.insert -> ``bigquery.datasets.create`` on the project, also when the dataset
  exists (``create_dataset(exists_ok=True)`` sends the insert and reads the 409);
  datasets.get / patch / delete -> ``.get`` / ``.update`` / ``.delete`` on the dataset.
- tables.insert -> ``bigquery.tables.create`` on the dataset; tables.list -> ``.list`` on
  the dataset; tables.get / patch / update / delete -> ``.get`` / ``.update`` / ``.delete``;
  tabledata.insertAll -> ``.updateData``; tabledata.list -> ``.getData``.
- jobs.insert / jobs.query -> ``bigquery.jobs.create`` on the project plus what the job
  touches: a query needs ``tables.getData`` on every table it reads, ``tables.updateData``
  on the target of INSERT / UPDATE / DELETE / MERGE / TRUNCATE (UPDATE / DELETE / MERGE
  also read it: ``getData``), ``tables.create`` on the dataset for CREATE TABLE / VIEW
  (checked even when ``IF NOT EXISTS`` finds the table), ``tables.update`` +
  ``updateData`` for CREATE OR REPLACE, ``tables.update`` for ALTER, ``tables.delete`` for
  DROP, ``datasets.create`` on the project for CREATE SCHEMA. Load jobs need
  ``updateData`` on the destination (+ ``tables.create`` on its dataset when
  CREATE_IF_NEEDED will create it) and ``storage.objects.get`` on every ``gs://`` source
  (+ ``storage.objects.list`` on its bucket for a wildcard URI): BigQuery reads Cloud
  Storage as the caller. Copy jobs read their sources (``get`` + ``getData``), extract
  jobs read (``getData`` + ``export``) and write ``storage.objects.create``.
- jobs.get / getQueryResults / cancel of the caller's own job -> ``bigquery.jobs.create``
  (own jobs); of another principal's job -> ``jobs.get`` / ``jobs.update``; jobs.list ->
  ``bigquery.jobs.list`` (``allUsers=true``: ``jobs.listAll``); jobs.delete ->
  ``bigquery.jobs.delete``.
- INFORMATION_SCHEMA: dataset views -> ``tables.list`` + ``tables.get`` on the dataset;
  ``JOBS_BY_USER`` -> ``jobs.list``, other ``JOBS*`` views -> ``jobs.listAll`` on the
  project; ``SCHEMATA*`` -> ``datasets.get`` on the project.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from stkpi_tools.localstack.iam.policy import Check, NoRule, dataset, gcs_object, project, table

ROOTS = ("/bigquery/v2/", "/upload/bigquery/v2/")

TableExists = Callable[[str, str, str], bool]  # (project, dataset, table) -> exists now
OwnJob = Callable[[str, str], bool]  # (project, job id) -> created by the caller
ProjectOf = Callable[[str], str]  # bucket -> project


def _no_rule(method: str, path: str) -> NoRule:
    return NoRule(f"iam gate: no rule for {method} {path}")


def _clean_table(name: str) -> str:
    """A table id without partition (``$``) or snapshot (``@``) decorators."""
    return unquote(name).split("$", 1)[0].split("@", 1)[0]


def body_needed(method: str, path: str, query: Mapping[str, str]) -> str | None:
    """``"json"`` (job inserts and queries: the configuration decides the checks),
    ``"multipart"`` (the metadata part of a multipart load upload) or None."""
    if method != "POST":
        return None
    for root in ROOTS:
        if path.startswith(root):
            seg = path[len(root) :].split("/")
            if len(seg) == 3 and seg[0] == "projects" and seg[2] in ("jobs", "queries"):
                if root.startswith("/upload/"):
                    kind = query.get("uploadType", "")
                    return "multipart" if kind == "multipart" else "json"
                return "json"
    return None


def checks(
    method: str,
    path: str,
    query: Mapping[str, str],
    *,
    body: Mapping[str, Any] | None = None,
    table_exists: TableExists | None = None,
    own_job: OwnJob | None = None,
    bucket_project: ProjectOf | None = None,
) -> list[Check]:
    """The checks for one request; raises ``NoRule`` for a call without a rule.

    ``body`` is the parsed JSON body when ``body_needed`` asked for it; ``table_exists``
    tells whether CREATE_IF_NEEDED will create a table (default: assume it will);
    ``own_job`` whether a job was started by the caller (default: yes);
    ``bucket_project`` maps a ``gs://`` bucket to its project (default: the job's).
    """
    upload = path.startswith("/upload/bigquery/v2/")
    root = "/upload/bigquery/v2/" if upload else "/bigquery/v2/"
    if not path.startswith(root):
        raise _no_rule(method, path)
    seg = [unquote(s) for s in path[len(root) :].rstrip("/").split("/")]
    if seg == ["projects"] and method == "GET":
        return []  # lists the projects the caller can see: nothing to refuse
    if len(seg) < 2 or seg[0] != "projects" or not seg[1]:
        raise _no_rule(method, path)
    p = seg[1]
    rest = seg[2:]
    proj = project(p)

    if upload:
        if rest == ["jobs"] and method == "POST" and not query.get("upload_id"):
            return job_checks(
                p, body or {}, table_exists=table_exists, bucket_project=bucket_project
            )
        if rest == ["jobs"] and method in ("PUT", "POST", "DELETE") and query.get("upload_id"):
            return []  # chunks of a session judged when it started
        raise _no_rule(method, path)

    if rest == ["serviceAccount"] and method == "GET":
        return []
    if rest == ["datasets"]:
        if method == "GET":
            return []  # Google lists only the datasets the caller may see; never a 403
        if method == "POST":
            return [("bigquery.datasets.create", proj)]
        raise _no_rule(method, path)
    if rest[:1] == ["datasets"] and len(rest) >= 2:
        return _dataset_route(method, path, query, p, rest[1], rest[2:])
    if rest == ["jobs"]:
        if method == "GET":
            return [
                (
                    "bigquery.jobs.listAll"
                    if _true(query.get("allUsers"))
                    else "bigquery.jobs.list",
                    proj,
                )
            ]
        if method == "POST":
            return job_checks(
                p, body or {}, table_exists=table_exists, bucket_project=bucket_project
            )
        raise _no_rule(method, path)
    if rest[:1] in (["jobs"], ["queries"]) and len(rest) >= 2:
        own = own_job(p, rest[1]) if own_job else True
        tail = rest[2:]
        if method == "GET" and not tail:  # jobs.get, jobs.getQueryResults
            return [("bigquery.jobs.create" if own else "bigquery.jobs.get", proj)]
        if rest[0] == "jobs" and method == "POST" and tail == ["cancel"]:
            return [("bigquery.jobs.create" if own else "bigquery.jobs.update", proj)]
        if rest[0] == "jobs" and method == "DELETE" and tail in ([], ["delete"]):
            return [("bigquery.jobs.delete", proj)]
        raise _no_rule(method, path)
    if rest == ["queries"] and method == "POST":
        b = body or {}
        default = b.get("defaultDataset") or None
        out: list[Check] = [("bigquery.jobs.create", proj)]
        if b.get("useLegacySql") is True:
            raise NoRule("iam gate: legacy SQL queries have no rule")
        return out + sql_checks(str(b.get("query") or ""), p, _ds_ref(default, p))
    raise _no_rule(method, path)


def _true(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


def _dataset_route(
    method: str, path: str, query: Mapping[str, str], p: str, d: str, rest: list[str]
) -> list[Check]:
    ds = dataset(p, d)
    if not rest:
        if method == "GET":
            return [("bigquery.datasets.get", ds)]
        if method in ("PATCH", "PUT"):
            return [("bigquery.datasets.update", ds)]
        if method == "DELETE":
            out = [("bigquery.datasets.delete", ds)]
            if _true(query.get("deleteContents")):
                out.append(("bigquery.tables.delete", ds))
            return out
        raise _no_rule(method, path)
    if rest == ["tables"]:
        if method == "GET":
            return [("bigquery.tables.list", ds)]
        if method == "POST":
            return [("bigquery.tables.create", ds)]
        raise _no_rule(method, path)
    if rest[0] == "tables" and len(rest) >= 2:
        t = table(p, d, _clean_table(rest[1]))
        tail = rest[2:]
        if not tail:
            verb = {"GET": "get", "PATCH": "update", "PUT": "update", "DELETE": "delete"}
            if method in verb:
                return [(f"bigquery.tables.{verb[method]}", t)]
        elif tail == ["insertAll"] and method == "POST":
            return [("bigquery.tables.updateData", t)]
        elif tail == ["data"] and method == "GET":
            return [("bigquery.tables.getData", t)]
    raise _no_rule(method, path)


# ---- jobs -----------------------------------------------------------------------------------


def _ds_ref(ref: Mapping[str, Any] | None, p: str) -> tuple[str, str] | None:
    if not ref or not ref.get("datasetId"):
        return None
    return str(ref.get("projectId") or p), str(ref["datasetId"])


def _table_ref(ref: Mapping[str, Any], p: str) -> tuple[str, str, str]:
    try:
        return (
            str(ref.get("projectId") or p),
            str(ref["datasetId"]),
            _clean_table(str(ref["tableId"])),
        )
    except KeyError as exc:
        raise NoRule(f"iam gate: table reference without {exc.args[0]}: {dict(ref)}") from None


def _write_target(
    ref: Mapping[str, Any] | None,
    p: str,
    create_disposition: str | None,
    table_exists: TableExists | None,
) -> list[Check]:
    """``updateData`` on a job's destination, + ``tables.create`` if the job creates it."""
    if not ref:
        return []
    tp, td, tt = _table_ref(ref, p)
    out = [("bigquery.tables.updateData", table(tp, td, tt))]
    if (create_disposition or "CREATE_IF_NEEDED") == "CREATE_IF_NEEDED" and not (
        table_exists is not None and table_exists(tp, td, tt)
    ):
        out.insert(0, ("bigquery.tables.create", dataset(tp, td)))
    return out


def _gcs(uri: str, job_project: str, bucket_project: ProjectOf | None) -> tuple[str, str, str]:
    if not uri.startswith("gs://"):
        raise NoRule(f"iam gate: no rule for a job reading or writing {uri!r} (only gs://)")
    b, _, name = uri[len("gs://") :].partition("/")
    return (bucket_project(b) if bucket_project else job_project), b, name


def _gcs_reads(uris: Iterable[str], p: str, bucket_project: ProjectOf | None) -> list[Check]:
    out: list[Check] = []
    for uri in uris:
        bp, b, name = _gcs(str(uri), p, bucket_project)
        out.append(("storage.objects.get", gcs_object(bp, b, name)))
        if "*" in name:
            out.append(("storage.objects.list", f"projects/{bp}/buckets/{b}"))
    return out


def job_checks(
    p: str,
    job: Mapping[str, Any],
    *,
    table_exists: TableExists | None = None,
    bucket_project: ProjectOf | None = None,
) -> list[Check]:
    """Checks for a jobs.insert body (``{"jobReference": ..., "configuration": ...}``)."""
    config = job.get("configuration") or {}
    out: list[Check] = [("bigquery.jobs.create", project(p))]
    if "query" in config:
        q = config["query"] or {}
        if q.get("useLegacySql") is True:
            raise NoRule("iam gate: legacy SQL queries have no rule")
        out += sql_checks(str(q.get("query") or ""), p, _ds_ref(q.get("defaultDataset"), p))
        out += _write_target(q.get("destinationTable"), p, q.get("createDisposition"), table_exists)
    elif "load" in config:
        load = config["load"] or {}
        dest = load.get("destinationTable")
        if not dest:
            raise NoRule("iam gate: load job without destinationTable")
        out += _write_target(dest, p, load.get("createDisposition"), table_exists)
        out += _gcs_reads(load.get("sourceUris") or [], p, bucket_project)
    elif "copy" in config:
        copy = config["copy"] or {}
        sources = list(copy.get("sourceTables") or [])
        if copy.get("sourceTable"):
            sources.append(copy["sourceTable"])
        for ref in sources:
            t = table(*_table_ref(ref, p))
            out += [("bigquery.tables.get", t), ("bigquery.tables.getData", t)]
        out += _write_target(
            copy.get("destinationTable"), p, copy.get("createDisposition"), table_exists
        )
    elif "extract" in config:
        ext = config["extract"] or {}
        if not ext.get("sourceTable"):
            raise NoRule("iam gate: extract job without sourceTable (models have no rule)")
        t = table(*_table_ref(ext["sourceTable"], p))
        out += [("bigquery.tables.getData", t), ("bigquery.tables.export", t)]
        uris = list(ext.get("destinationUris") or [])
        if ext.get("destinationUri"):
            uris.append(ext["destinationUri"])
        for uri in uris:
            bp, b, name = _gcs(str(uri), p, bucket_project)
            out.append(("storage.objects.create", gcs_object(bp, b, name)))
    else:
        kinds = ", ".join(sorted(config)) or "none"
        raise NoRule(f"iam gate: no rule for a job of kind {kinds}")
    return out


# ---- SQL ------------------------------------------------------------------------------------


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
                bp, b, name = _gcs(prop.args["value"].name, s.project, None)
                out.append(("storage.objects.create", gcs_object(bp, b, name)))
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
    """Data permissions a GoogleSQL query or script needs (``jobs.create`` excluded)."""
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
    return list(dict.fromkeys(out))
