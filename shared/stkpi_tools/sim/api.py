"""The ServiceTitan-shaped HTTP API: token endpoint, list and export endpoints.

Routes are derived from ``stkpi.registry`` (``Entity.path``/``export_path`` with a Flask
placeholder for the tenant), so the simulator serves exactly what the pipeline asks for;
what each answers is ServiceTitan's spec (``specs/servicetitan``, through
``stkpi_tools.sim.shapes``): its page shape (the paged object, a bare array, an export
batch), its records' fields and types, and its query parameters: a parameter the spec does
not list for the endpoint is refused with 400, so a client that sends one fails here first.
Checks run in the real API's order: path, auth, app key, tenant, rate limit, then params.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import numpy as np
from flask import Blueprint, Response, current_app, request

from stkpi.registry import ENTITIES, Entity
from stkpi_tools.sim.clock import parse_time
from stkpi_tools.sim.config import TENANT_ID
from stkpi_tools.sim.hostile import REDIRECT_HOST, hostile_page
from stkpi_tools.sim.shapes import Kind, accepted_params
from stkpi_tools.sim.state import SimState, TenantSim
from stkpi_tools.sim.tenant import Filters

MAX_PAGE_SIZE = 5_000
DEFAULT_PAGE_SIZE = 50
_TENANT = "<tenant>"


class ApiError(Exception):
    """A 4xx/5xx answered with ServiceTitan's error body (the specs' ``ApiErrorResponse``:
    ``type, title, status, traceId, errors, data``): ``errors`` maps a parameter to its
    messages, and ``data`` carries what the simulator adds (``detail``, the ``parameter``
    at fault, ``retryAfter``)."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra

    def response(self) -> Response:
        extra = dict(self.extra)
        errors = extra.pop("errors", None) or {}
        data = {"detail": self.detail, **{_CAMEL.get(k, k): v for k, v in extra.items()}}
        body = {
            "type": f"https://httpstatuses.io/{self.status}",
            "title": self.title,
            "status": self.status,
            "traceId": uuid.uuid4().hex,
            "errors": errors,
            "data": data,
        }
        resp = json_response(body, self.status)
        if "retry_after" in self.extra:
            resp.headers["Retry-After"] = str(self.extra["retry_after"])
        return resp


_CAMEL = {"retry_after": "retryAfter"}


def json_response(body: Any, status: int = 200) -> Response:
    data = json.dumps(body, separators=(",", ":"))
    return Response(data, status=status, mimetype="application/json")


def state() -> SimState:
    return current_app.extensions["stkpi_sim"]


def bad_param(name: str, message: str) -> ApiError:
    return ApiError(400, "One or more validation errors occurred.", f"{name}: {message}",
                    parameter=name, errors={name: [message]})  # fmt: skip


def _int_param(name: str, default: int, lo: int, hi: int | None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_param(name, f"{raw!r} is not an integer") from None
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise bad_param(name, f"must be {bound}, got {value}")
    return value


def _bool_param(name: str, default: bool) -> bool:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise bad_param(name, f"{raw!r} is not a boolean (true/false)")


def _time_param(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        return parse_time(raw)
    except ValueError as exc:
        raise bad_param(name, str(exc)) from None


_ACTIVE_VALUES = {"any": None, "true": True, "false": False}
_ACTIVE_STATES = {"all": None, "activeonly": True, "inactiveonly": False}


def _active_param(has_active: bool, accepted: frozenset[str], default: bool | None) -> bool | None:
    """Which records the request asks for by their ``active`` flag: ``active`` (True, Any,
    False) or, in the accounting lists, ``activeState`` (ActiveOnly, InactiveOnly, All).
    Unasked, ``default``: active only for a list, everything for an export (the spec)."""
    for name, values in (("active", _ACTIVE_VALUES), ("activeState", _ACTIVE_STATES)):
        if name not in accepted:
            continue
        raw = request.args.get(name)
        if raw is None or raw == "":
            return default if has_active else None
        if raw.lower() not in values:
            options = ", ".join(k for k in ("True", "Any", "False", "ActiveOnly", "InactiveOnly",
                                            "All") if k.lower() in values)  # fmt: skip
            raise bad_param(name, f"{raw!r} is not one of {options}")
        return values[raw.lower()] if has_active else None
    return None


def _known_params(entity: Entity, kind: Kind) -> None:
    """400 for a query parameter the spec does not list for this endpoint."""
    accepted = accepted_params(entity.name, kind)
    for name in request.args:
        if name not in accepted:
            raise bad_param(name, f"not a parameter of GET {request.path} (ServiceTitan's spec)")


_sleep = time.sleep  # tests replace it to see the answer time without waiting for it


def _records_requested(st: TenantSim) -> int:
    """The records this request asks for: its ``pageSize`` (the list default when absent;
    a malformed value counts as none, the request will get its 400), or an export page."""
    if (request.endpoint or "").rpartition(".")[2].startswith("export_"):
        return st.config.export_page_size
    raw = request.args.get("pageSize") or ""
    if not raw:
        return DEFAULT_PAGE_SIZE
    try:
        return min(max(int(raw), 0), MAX_PAGE_SIZE)
    except ValueError:
        return 0


class Redirected(Exception):
    """Answer this request with a redirect (the hostile API's ``redirect_requests``)."""

    def response(self) -> Response:
        url = request.url.replace(request.host.split(":")[0], REDIRECT_HOST, 1)
        resp = Response("", status=307)
        resp.headers["Location"] = url
        return resp


def _guard(tenant: str, module: str) -> TenantSim:
    """Auth, app key, tenant, API scope, rate limit and injected request faults; the path
    tenant's state when the request may proceed.

    A token is its tenant's (ServiceTitan's client id and secret are per tenant): valid on
    that tenant's paths only. A tenant id that is not an int64 (the spec's type of the
    ``{tenant}`` path parameter) is the spec's 400; a numeric one the simulator does not
    serve is 404; another tenant's token on a served tenant's path is 403."""
    server = state()
    target = server.tenants.get(tenant)
    st = target or server  # an unknown tenant's requests meet the primary's faults
    if st.faults.redirected and request.host.split(":")[0] == REDIRECT_HOST:
        # A redirect's other host: whatever credentials reach it have leaked.
        if request.headers.get("ST-App-Key") or request.headers.get("Authorization"):
            st.faults.count("redirect_credentials_leaked")
        raise ApiError(401, "Unauthorized", "another host: no credentials belong here")
    if st.faults.take_redirect():
        raise Redirected()
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else ""
    owner = next((t for t in server.tenants.values() if token and t.tokens.valid(token)), None)
    if owner is None:
        raise ApiError(401, "Unauthorized", "missing, invalid or expired bearer token")
    app_key = request.headers.get("ST-App-Key")
    if app_key != owner.config.app_key:
        raise ApiError(403, "Forbidden", "missing or unknown ST-App-Key header")
    if not TENANT_ID.fullmatch(tenant):
        raise bad_param("tenant", f"The value '{tenant}' is not valid.")
    if target is None:
        raise ApiError(404, "Not Found", f"tenant {tenant!r} not found")
    if owner is not target:
        raise ApiError(403, "Forbidden", f"the access token was granted to another tenant's "
                       f"client, not tenant {tenant}'s: use its own client id and secret")  # fmt: skip
    if st.faults.denies(module):
        raise ApiError(403, "Forbidden", f"the app has no access to the {module!r} API: "
                       "its scopes do not include it", errors={})  # fmt: skip
    wait = st.limiter.acquire((app_key, tenant))
    if wait:
        raise ApiError(429, "Too Many Requests", "rate limit exceeded", retry_after=wait)
    if st.faults.take_429():
        raise ApiError(429, "Too Many Requests", "rate limit exceeded (injected)", retry_after=1)
    # The answer time of an admitted request (refusals above answer at once, as a gateway
    # does): fixed + per record requested. No lock is held while sleeping (the settings
    # are one immutable object read once) and the server runs a thread per request, so
    # concurrent requests wait side by side, as they would on the real API.
    delay = st.faults.config.latency_seconds(_records_requested(st))
    if delay > 0:
        _sleep(delay)
    if st.faults.roll_5xx():
        raise ApiError(503, "Service Unavailable", "transient server error (injected)")
    return st


def _damage(st: TenantSim, resp: Response, entity: str, page: int) -> Response:
    fault = st.faults.take_body_fault(entity, page, request.full_path)
    if fault is None:
        return resp
    body = resp.get_data()
    st.faults.count(f"body_{fault}")
    if fault == "truncate":
        resp.set_data(body[: max(1, len(body) // 2)])
    else:
        resp.set_data(body[: max(1, len(body) // 3)] + b'\x00}{"garbage": ,]')
    return resp


def _list(entity: Entity, tenant: str) -> Response:
    st = _guard(tenant, entity.module)
    _known_params(entity, "list")
    page = _int_param("page", 1, 1, None)
    size = _int_param("pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    include_total = _bool_param("includeTotal", False)
    accepted = accepted_params(entity.name, "list")
    filters = Filters(
        modified_from=_time_param("modifiedOnOrAfter"),
        modified_before=_time_param("modifiedBefore"),
        created_from=_time_param("createdOnOrAfter"),
        created_before=_time_param("createdBefore"),
        active=_active_param(st.tenant.has_active(entity.name), accepted, True),
    )
    indices = st.tenant.query(entity.name, filters)
    hidden = st.faults.hidden(entity.name, st.tenant.tables[entity.name].ids[indices])
    if hidden.any():
        indices = indices[~hidden]
    start = (page - 1) * size
    chunk = indices[start : start + size]
    data = st.tenant.render(entity.name, chunk)
    body: Any = data
    if entity.list_shape == "page":
        body = {
            "page": page,
            "pageSize": size,
            "hasMore": bool(indices.size > start + size),
            "totalCount": int(indices.size) if include_total else None,
            "data": data,
        }
    page_faults = st.faults.take_page_faults(entity.name)
    bad = st.faults.bad_records()
    if page_faults or bad:
        earlier = indices[max(0, start - size) : max(0, start - size) + 1] if start else indices[:0]
        text = hostile_page(
            entity,
            body,
            faults=page_faults,
            bad=bad,
            previous_first=lambda: next(iter(st.tenant.render(entity.name, earlier)), None),
        )
        plain = Response(text, status=200, mimetype="application/json")
    else:
        plain = json_response(body)
    resp = _damage(st, plain, entity.name, page)
    edits = st.faults.take_edit(entity.name, page)
    if edits:
        # Edit rows of this very result set: they jump to modifiedOn=now, between pages.
        edited = st.tenant.edit(entity.name, edits, salt=page, among=np.asarray(indices))
        for _ in edited:
            st.faults.count(f"edited_while_paging_{entity.name}")
    return resp


def _export(entity: Entity, tenant: str) -> Response:
    st = _guard(tenant, entity.module)
    _known_params(entity, "export")
    token = request.args.get("from") or None
    _bool_param("includeRecentChanges", False)  # accepted; the simulator has no lag to skip
    accepted = accepted_params(entity.name, "export")
    active = _active_param(st.tenant.has_active(entity.name), accepted, None)
    try:
        data, has_more, cont = st.tenant.export_page(
            entity.name, token, st.config.export_page_size, active
        )
    except ValueError as exc:
        raise bad_param("from", str(exc)) from None
    body = {"data": data, "hasMore": has_more, "continueFrom": cont}
    bad = st.faults.bad_records()  # a bad record is bad in the feed as in the list
    if bad:
        text = hostile_page(entity, body, faults=(), bad=bad, previous_first=lambda: None)
        resp = Response(text, status=200, mimetype="application/json")
    else:
        resp = json_response(body)
    return _damage(st, resp, entity.name, -1)


def _token() -> Response:
    """One auth URL for every tenant: the client id says whose token it is."""
    form = request.form
    if form.get("grant_type") != "client_credentials":
        return json_response({"error": "unsupported_grant_type"}, 400)
    st = state().by_client(form.get("client_id"))
    if (
        st is None
        or form.get("client_secret") != st.config.client_secret
        or st.faults.config.credentials_revoked
    ):
        return json_response({"error": "invalid_client"}, 401)
    token, ttl = st.tokens.issue()
    if st.faults.take_newline_token():  # a hostile auth server: no client can send it
        token = f"{token[:6]}\n{token[6:]}"
    return json_response({"access_token": token, "expires_in": ttl, "token_type": "Bearer"})


def blueprint() -> Blueprint:
    """The API routes, one list (and maybe export) rule per registry entity."""
    bp = Blueprint("st_api", __name__)
    bp.add_url_rule("/connect/token", "token", _token, methods=["POST"])
    for entity in ENTITIES:
        bp.add_url_rule(
            entity.path(_TENANT),
            f"list_{entity.name}",
            lambda tenant, _e=entity: _list(_e, tenant),
            methods=["GET"],
        )
        export = entity.export_path(_TENANT)
        if export is not None:
            bp.add_url_rule(
                export,
                f"export_{entity.name}",
                lambda tenant, _e=entity: _export(_e, tenant),
                methods=["GET"],
            )
    return bp
