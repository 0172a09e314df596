"""The ``/_sim`` admin endpoints: clock, faults, stats, reset, edits, deletes, ground truth.

Not part of ServiceTitan's API; they let tests and chaos runs steer a simulator that runs in
another process. No auth: the server binds 127.0.0.1 only.

Each addresses one tenant: ``?tenant=<id>`` (default: the primary, so every caller written
for one tenant is unchanged); a tenant the simulator does not serve is 404. The clock is one
for all tenants, whichever is named. ``GET /_sim/tenants`` lists the tenants served, with
their fake credentials.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from flask import Blueprint, Response, request

from stkpi.errors import PermanentError
from stkpi.registry import get_entity
from stkpi_tools.sim.api import ApiError, json_response, state
from stkpi_tools.sim.state import TenantSim, UnknownTenant


def _st() -> TenantSim:
    """The tenant this admin request addresses (``?tenant=``, default the primary)."""
    try:
        return state().of(request.args.get("tenant") or None)
    except UnknownTenant as exc:
        raise ApiError(404, "Not Found", str(exc.args[0])) from None


def _body() -> dict:
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise ApiError(400, "Bad Request", "expected a JSON object body")
    return data


def _entity_name(name: str) -> str:
    try:
        return get_entity(name).name
    except PermanentError as exc:
        raise ApiError(404, "Not Found", str(exc)) from None


def _clock() -> Response:
    if request.method == "POST":
        body = _body()
        try:
            now = _st().set_clock(body.get("now"), body.get("advance_hours"))
        except ValueError as exc:
            raise ApiError(400, "Bad Request", str(exc)) from None
        return json_response({"now": now})
    return json_response({"now": _st().tenant.now_iso()})


def _faults() -> Response:
    if request.method == "POST":
        try:
            _st().set_faults(**_body())
        except (TypeError, ValueError) as exc:
            raise ApiError(400, "Bad Request", str(exc)) from None
    return json_response(_st().fault_settings())


def _stats() -> Response:
    return json_response(_st().stats())


def _reset() -> Response:
    _st().reset()
    return json_response({"ok": True})


def _counts() -> Response:
    return json_response(_st().tenant.counts())


def _edit() -> Response:
    body = _body()
    name = _entity_name(str(body.get("entity", "")))
    edited = _st().tenant.edit(name, int(body.get("count", 1)), salt=int(body.get("salt", 0)))
    ids = [int(_st().tenant.tables[name].ids[i]) for i in edited]
    return json_response({"entity": name, "edited": len(ids), "indices": edited, "ids": ids})


def _delete() -> Response:
    """Hard-delete ``ids`` or a ``fraction`` of an entity: ``{"entity", "ids"|"fraction"}``."""
    body = _body()
    name = _entity_name(str(body.get("entity", "")))
    ids, fraction = body.get("ids"), body.get("fraction")
    try:
        if ids is not None and (
            not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)
        ):
            raise ValueError(f"ids must be a list of integers, got {ids!r:.100}")
        deleted = _st().tenant.delete(
            name,
            ids=ids,
            fraction=None if fraction is None else float(fraction),
            salt=int(body.get("salt", 0)),
        )
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "Bad Request", f"delete {name}: {exc}") from None
    return json_response({"entity": name, "deleted": len(deleted), "ids": deleted})


def _restore() -> Response:
    body = _body()
    name = _entity_name(str(body.get("entity", "")))
    try:
        restored = _st().tenant.restore(name, [int(i) for i in body.get("ids") or []])
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "Bad Request", f"restore {name}: {exc}") from None
    return json_response({"entity": name, "restored": len(restored), "ids": restored})


def _deleted(entity: str) -> Response:
    name = _entity_name(entity)
    return json_response({"entity": name, "ids": _st().tenant.deleted_ids(name)})


def _snapshot(entity: str) -> Response:
    name = _entity_name(entity)
    tenant = _st().tenant  # the generator runs after the request context is gone

    def lines() -> Iterator[str]:
        for record in tenant.iter_snapshot(name):
            yield json.dumps(record, separators=(",", ":")) + "\n"

    return Response(lines(), mimetype="application/x-ndjson")


def _versions(entity: str) -> Response:
    """``{"n": records, "versions": packed}``: every visible record's key and modifiedOn
    in one string (``stkpi_tools.sim.packed_versions``)."""
    count, packed = _st().tenant.packed_versions(_entity_name(entity))
    return json_response({"n": count, "versions": packed})


def _tenants() -> Response:
    """Every tenant served, the primary first."""
    return json_response({"tenants": [t.describe() for t in state().tenants.values()]})


def blueprint() -> Blueprint:
    bp = Blueprint("sim_admin", __name__, url_prefix="/_sim")
    bp.add_url_rule("/clock", "clock", _clock, methods=["GET", "POST"])
    bp.add_url_rule("/faults", "faults", _faults, methods=["GET", "POST"])
    bp.add_url_rule("/stats", "stats", _stats, methods=["GET"])
    bp.add_url_rule("/reset", "reset", _reset, methods=["POST"])
    bp.add_url_rule("/counts", "counts", _counts, methods=["GET"])
    bp.add_url_rule("/edit", "edit", _edit, methods=["POST"])
    bp.add_url_rule("/delete", "delete", _delete, methods=["POST"])
    bp.add_url_rule("/restore", "restore", _restore, methods=["POST"])
    bp.add_url_rule("/deleted/<entity>", "deleted", _deleted, methods=["GET"])
    bp.add_url_rule("/snapshot/<entity>", "snapshot", _snapshot, methods=["GET"])
    bp.add_url_rule("/versions/<entity>", "versions", _versions, methods=["GET"])
    bp.add_url_rule("/tenants", "tenants", _tenants, methods=["GET"])
    bp.add_url_rule("/health", "health", lambda: json_response({"ok": True}), methods=["GET"])
    return bp
