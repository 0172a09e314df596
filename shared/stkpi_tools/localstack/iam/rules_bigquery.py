"""BigQuery REST call -> the IAM checks Google makes (pure: no I/O).

Paths are those the official client sends to ``BIGQUERY_EMULATOR_HOST``:
``/bigquery/v2/projects/{p}/...`` and ``/upload/bigquery/v2/projects/{p}/jobs``. Facts
(BigQuery IAM permissions reference, per method):

- datasets.insert -> ``bigquery.datasets.create`` on the project, also when the dataset
  exists (``create_dataset(exists_ok=True)`` sends the insert and reads the 409);
  datasets.get / patch / delete -> ``.get`` / ``.update`` / ``.delete`` on the dataset.
- tables.insert -> ``bigquery.tables.create`` on the dataset; tables.list -> ``.list`` on
  the dataset; tables.get / patch / update / delete -> ``.get`` / ``.update`` / ``.delete``;
  tabledata.insertAll -> ``.updateData``; tabledata.list -> ``.getData``.
- jobs.insert / jobs.query -> ``bigquery.jobs.create`` on the project plus what the job
  touches: a query what its SQL needs (``rules_bigquery_sql``). Load jobs need
  ``updateData`` on the destination (+ ``tables.create`` on its dataset when
  CREATE_IF_NEEDED will create it) and ``storage.objects.get`` on every ``gs://`` source
  (+ ``storage.objects.list`` on its bucket for a wildcard URI): BigQuery reads Cloud
  Storage as the caller. Copy jobs read their sources (``get`` + ``getData``), extract
  jobs read (``getData`` + ``export``) and write ``storage.objects.create``.
- jobs.get / getQueryResults / cancel of the caller's own job -> ``bigquery.jobs.create``
  (own jobs); of another principal's job -> ``jobs.get`` / ``jobs.update``; jobs.list ->
  ``bigquery.jobs.list`` (``allUsers=true``: ``jobs.listAll``); jobs.delete ->
  ``bigquery.jobs.delete``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from stkpi_tools.localstack.iam import policy
from stkpi_tools.localstack.iam.policy import Check, NoRule, dataset, gcs_object, project, table
from stkpi_tools.localstack.iam.rules_bigquery_sql import sql_checks

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
    b, name = policy.split_gcs_uri(uri)
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
