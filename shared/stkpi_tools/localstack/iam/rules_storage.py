"""Cloud Storage JSON API call -> the IAM checks Google makes (pure: no I/O).

Paths are the raw (still percent-encoded) request paths the official client sends to
``STORAGE_EMULATOR_HOST``: ``/storage/v1/...``, ``/upload/storage/v1/...`` and
``/download/storage/v1/...``. Facts (Cloud Storage IAM permissions reference):

- objects.insert (media, multipart, resumable start, JSON) -> ``storage.objects.create``; if
  the object already exists the write replaces it, which also needs
  ``storage.objects.delete`` (not with ``ifGenerationMatch=0``: that write fails with 412
  instead; with ``ifGenerationMatch=N>0`` it always replaces).
- objects.get / ``alt=media`` / download -> ``storage.objects.get``; objects.list ->
  ``storage.objects.list`` (bucket); objects.delete -> ``.delete``; patch/update ->
  ``.update``; compose / rewrite / copy -> ``.create`` on the destination (+ ``.delete``
  when it replaces one) and ``.get`` on every source.
- buckets.get -> ``storage.buckets.get``; update -> ``.update``; delete -> ``.delete``;
  buckets.insert / buckets.list -> ``storage.buckets.create`` / ``.list`` on the project.
- Resumable uploads are judged when the session starts; the chunks that follow (``PUT``
  with ``upload_id``) carry the session id, a capability Google does not check again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from stkpi_tools.localstack.iam.policy import Check, NoRule, bucket, gcs_object, project

PREFIXES = ("/storage/v1/", "/upload/storage/v1/", "/download/storage/v1/")

ProjectOf = Callable[[str], str]  # bucket -> project
Exists = Callable[[str, str], bool]  # (bucket, object) -> exists now


def _no_rule(method: str, path: str) -> NoRule:
    return NoRule(f"iam gate: no rule for {method} {path}")


def _split(path: str) -> tuple[str, list[str]] | None:
    for prefix in PREFIXES:
        if path.startswith(prefix):
            return prefix.strip("/").split("/")[0], path[len(prefix) :].split("/")
    return None


def _object_rest(segments: list[str]) -> str:
    """Everything after ``o/``, joined back (names may carry raw ``/`` if unencoded)."""
    return "/".join(segments)


def body_needed(method: str, path: str, query: Mapping[str, str]) -> str | None:
    """What the gate must read of the request body to judge it: ``"multipart"`` (the
    metadata part of a multipart upload), ``"json"`` (a small JSON body) or None."""
    split = _split(path)
    if split is None or method != "POST":
        return None
    api, seg = split
    if api == "upload" and len(seg) == 3 and seg[0] == "b" and seg[2] == "o":
        kind = query.get("uploadType", "")
        if kind == "multipart":
            return "multipart"
        if kind == "resumable" and "name" not in query:
            return "json"
        return None
    if api == "storage" and len(seg) == 3 and seg[0] == "b" and seg[2] == "o":
        return None if "name" in query else "json"
    compose = len(seg) >= 4 and _object_rest(seg[3:]).endswith("/compose")
    if api == "storage" and seg[0] == "b" and seg[2:3] == ["o"] and compose:
        return "json"
    return None


def _write(
    p: str, b: str, name: str, query: Mapping[str, str], exists: Exists | None
) -> list[Check]:
    """Create ``b/name``: + delete when it replaces an existing object."""
    res = gcs_object(p, b, name)
    out = [("storage.objects.create", res)]
    match = query.get("ifGenerationMatch")
    if match == "0":
        return out
    if match is not None or (exists is not None and exists(b, name)):
        out.append(("storage.objects.delete", res))
    return out


def checks(
    method: str,
    path: str,
    query: Mapping[str, str],
    *,
    project_of: ProjectOf,
    body: Mapping[str, Any] | None = None,
    exists: Exists | None = None,
) -> list[Check]:
    """The checks for one request; raises ``NoRule`` for a call without a rule.

    ``body`` is what ``body_needed`` asked for (the JSON body, or the metadata part of a
    multipart upload), ``exists`` answers whether an object exists now (an overwrite needs
    ``storage.objects.delete`` too).
    """
    split = _split(path)
    if split is None:
        raise _no_rule(method, path)
    api, seg = split
    body = body or {}

    if api == "storage" and seg == ["b"]:
        proj = query.get("project")
        if not proj:
            raise _no_rule(method, path)
        if method == "GET":
            return [("storage.buckets.list", project(proj))]
        if method == "POST":
            return [("storage.buckets.create", project(proj))]
        raise _no_rule(method, path)

    if len(seg) < 2 or seg[0] != "b" or not seg[1]:
        raise _no_rule(method, path)
    b = unquote(seg[1])
    p = project_of(b)

    if api == "storage" and len(seg) == 2:
        verb = {"GET": "get", "PATCH": "update", "PUT": "update", "DELETE": "delete"}
        if method in verb:
            return [(f"storage.buckets.{verb[method]}", bucket(p, b))]
        raise _no_rule(method, path)

    if api == "storage" and seg[2:] == ["iam"]:
        if method == "GET":
            return [("storage.buckets.getIamPolicy", bucket(p, b))]
        if method == "PUT":
            return [("storage.buckets.setIamPolicy", bucket(p, b))]
        raise _no_rule(method, path)
    if api == "storage" and seg[2:] == ["iam", "testPermissions"] and method == "GET":
        return []  # anyone may ask what they hold

    if len(seg) < 3 or seg[2] != "o":
        raise _no_rule(method, path)

    if len(seg) == 3:  # the bucket's object collection
        if api == "storage" and method == "GET":
            return [("storage.objects.list", bucket(p, b))]
        if method == "POST" and api in ("storage", "upload"):
            if query.get("upload_id"):
                return []  # a session started (and judged) earlier
            name = query.get("name") or body.get("name")
            if not name:
                raise NoRule(f"iam gate: {method} {path}: object name not found in the request")
            return _write(p, b, str(name), query, exists)
        if method in ("PUT", "DELETE") and api == "upload" and query.get("upload_id"):
            return []  # resumable chunk / cancel of a session judged at its start
        raise _no_rule(method, path)

    rest = _object_rest(seg[3:])
    if api == "download":
        if method == "GET":
            return [("storage.objects.get", gcs_object(p, b, unquote(rest)))]
        raise _no_rule(method, path)
    if api != "storage":
        raise _no_rule(method, path)

    for verb in ("rewriteTo", "copyTo"):
        marker = f"/{verb}/b/"
        if marker in rest and method == "POST":
            src, _, dst = rest.partition(marker)
            dst_bucket, _, dst_obj = dst.partition("/o/")
            if not dst_obj:
                raise _no_rule(method, path)
            db = unquote(dst_bucket)
            out = [("storage.objects.get", gcs_object(p, b, unquote(src)))]
            return out + _write(project_of(db), db, unquote(dst_obj), query, exists)

    if rest.endswith("/compose") and method == "POST":
        name = unquote(rest.removesuffix("/compose"))
        sources = [str(s.get("name", "")) for s in body.get("sourceObjects") or []]
        out = _write(p, b, name, query, exists)
        return out + [("storage.objects.get", gcs_object(p, b, s)) for s in sources]

    if "/" in rest:  # names arrive percent-encoded: a raw "/" starts a sub-resource (acl, ...)
        raise _no_rule(method, path)
    res = gcs_object(p, b, unquote(rest))
    verb = {"GET": "get", "DELETE": "delete", "PATCH": "update", "PUT": "update"}
    if method in verb:
        return [(f"storage.objects.{verb[method]}", res)]
    raise _no_rule(method, path)
