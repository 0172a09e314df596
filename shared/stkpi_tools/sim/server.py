"""The Flask app and an in-process runner for tests.

``create_app(config)`` builds the app (every tenant generated once, up front);
``running_simulator(config)`` serves it on 127.0.0.1 with a free port in a background thread
and yields a ``SimHandle`` that tests steer directly (no HTTP needed for admin calls).

Several tenants: ``SimConfig(tenants=(TenantSpec(...), ...))``; the handle steers the
primary tenant, ``handle.of("2000")`` another one (same methods, that tenant's data, faults,
counters and credentials; the clock is one for all).
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler, make_server

from stkpi_tools.sim import admin_api, api, reporting
from stkpi_tools.sim.api import ApiError
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.state import SimState, TenantSim
from stkpi_tools.sim.tenant import Tenant

_GZIP_MIN_BYTES = 512


def create_app(config: SimConfig, tenant: Tenant | None = None) -> Flask:
    """A Flask app serving the simulated tenant described by ``config``."""
    app = Flask("stkpi_tools.sim")
    app.extensions["stkpi_sim"] = SimState(config, tenant)
    app.register_blueprint(api.blueprint())
    app.register_blueprint(reporting.blueprint())
    app.register_blueprint(admin_api.blueprint())

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return exc.response()

    @app.errorhandler(api.Redirected)
    def _redirected(exc: api.Redirected) -> Response:
        return exc.response()

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        detail = f"no such endpoint: {request.method} {request.path}" if code in (404, 405) else ""
        return ApiError(code, exc.name, detail or exc.description or exc.name).response()

    @app.before_request
    def _count_request() -> None:
        if not request.path.startswith("/_sim"):
            _counted_in().faults.count("requests", request.path)

    @app.after_request
    def _finish(resp: Response) -> Response:
        if not request.path.startswith("/_sim"):
            _counted_in().faults.count(f"status_{resp.status_code}")
        return _maybe_gzip(resp)

    return app


def _counted_in() -> TenantSim:
    """Whose counters an API request goes to: its path's tenant, a token request's client's;
    the primary's for paths of no served tenant."""
    st: SimState = current_app.extensions["stkpi_sim"]
    tenant = (request.view_args or {}).get("tenant")
    if tenant is None and request.endpoint == "st_api.token":
        return st.by_client(request.form.get("client_id")) or st
    return st.tenants.get(str(tenant), st)


def _maybe_gzip(resp: Response) -> Response:
    """gzip when the client accepts it, as the real API does; streamed bodies stay plain."""
    if resp.direct_passthrough or resp.is_streamed or "Content-Encoding" in resp.headers:
        return resp
    if "gzip" not in request.headers.get("Accept-Encoding", "").lower():
        return resp
    body = resp.get_data()
    if len(body) < _GZIP_MIN_BYTES:
        return resp
    resp.set_data(gzip.compress(body, compresslevel=5))
    resp.headers["Content-Encoding"] = "gzip"
    resp.headers["Vary"] = "Accept-Encoding"
    return resp


class _QuietHandler(WSGIRequestHandler):
    """No per-request access log lines: tests make thousands of requests."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


def _setting(name: str) -> Any:
    """A read-only attribute of the handle that is the running simulator's setting ``name``."""
    return property(lambda handle: getattr(handle.state.config, name))


@dataclass
class SimHandle:
    """A running simulator as one of its tenants sees it (the primary unless made by
    ``of``): where it is, the tenant's fake credentials, and admin operations on it."""

    base_url: str
    auth_url: str
    tenant: Tenant
    state: TenantSim
    server: SimState | None = None  # the whole simulator (None: state is the simulator)

    def of(self, tenant_id: str) -> SimHandle:
        """The handle of another tenant this simulator serves (KeyError if none)."""
        server = self.server or self.state
        assert isinstance(server, SimState)
        st = server.of(tenant_id)
        return SimHandle(self.base_url, self.auth_url, st.tenant, st, server)

    @property
    def tenant_ids(self) -> list[str]:
        """Every tenant served, the primary first."""
        server = self.server or self.state
        assert isinstance(server, SimState)
        return list(server.tenants)

    # The fake credentials are the simulator's settings: read there, never copied.
    tenant_id = _setting("tenant_id")
    client_id = _setting("client_id")
    client_secret = _setting("client_secret")
    app_key = _setting("app_key")

    @property
    def now(self) -> datetime:
        """The simulated clock (records born later are invisible)."""
        return datetime.fromtimestamp(self.tenant.now, UTC)

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change fault settings (``FaultConfig`` names, ``revoke_tokens``, rate/TTL)."""
        return self.state.set_faults(**changes)

    def revoke_tokens(self) -> None:
        """Invalidate every issued token: the next API calls get 401."""
        self.state.set_faults(revoke_tokens=True)

    def advance(self, hours: float) -> str:
        return self.state.set_clock(advance_hours=hours)

    def set_now(self, now: str | datetime) -> str:
        return self.state.set_clock(now=now if isinstance(now, str) else now.isoformat())

    def snapshot(self, entity_name: str) -> list[dict[str, Any]]:
        return self.tenant.snapshot(entity_name)

    def versions(self, entity_name: str) -> dict[str, int | None]:
        """Key -> modifiedOn (microseconds since the epoch), as ``SimAdmin.versions``."""
        return dict(self.tenant.iter_version_micros(entity_name))

    def stats(self) -> dict[str, Any]:
        return self.state.stats()

    def reset(self) -> None:
        self.state.reset()

    def edit(self, entity_name: str, count: int) -> list[int]:
        """Stamp modifiedOn=now on ``count`` visible records; returns their ids."""
        table = self.tenant.tables[entity_name]
        return [int(table.ids[i]) for i in self.tenant.edit(entity_name, count)]

    def delete(
        self, entity_name: str, *, ids: list[int] | None = None, fraction: float | None = None
    ) -> list[int]:
        """Hard-delete records (``ids``, or a ``fraction`` of the entity); their ids."""
        return self.tenant.delete(entity_name, ids=ids, fraction=fraction)

    def deactivate(self, entity_name: str, ids: list[int]) -> list[int]:
        """Deactivate records (active false, modifiedOn now); their ids."""
        return self.tenant.deactivate(entity_name, ids)

    def restore(self, entity_name: str, ids: list[int]) -> list[int]:
        return self.tenant.restore(entity_name, ids)

    def deleted(self, entity_name: str) -> list[int]:
        return self.tenant.deleted_ids(entity_name)

    def env(self) -> dict[str, str]:
        """ST_* variables that point the pipeline at this simulator, and TENANT_CLOCK_URL
        at its clock (the pipeline's "now", stkpi.clock)."""
        return sim_env(self.base_url, self.auth_url, self.state.config)


def sim_env(base_url: str, auth_url: str, config: SimConfig) -> dict[str, str]:
    """The pipeline's settings for tenant ``config`` of the simulator at ``base_url``."""
    return {
        "TENANT_CLOCK_URL": f"{base_url}/_sim/clock",
        "ST_API_BASE_URL": base_url,
        "ST_AUTH_URL": auth_url,
        "ST_TENANT_ID": config.tenant_id,
        "ST_CLIENT_ID": config.client_id,
        "ST_CLIENT_SECRET": config.client_secret,
        "ST_APP_KEY": config.app_key,
    }


@contextmanager
def running_simulator(config: SimConfig | None = None) -> Iterator[SimHandle]:
    """Serve a simulator on 127.0.0.1:<free port> for the duration of the block."""
    config = config or SimConfig()
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="stkpi-sim", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    st: SimState = app.extensions["stkpi_sim"]
    try:
        yield SimHandle(base_url=url, auth_url=url, tenant=st.tenant, state=st)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
