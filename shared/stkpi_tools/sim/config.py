"""Simulator settings: one frozen object, so a test states its whole simulator in one place.

One server answers for one tenant (the primary: ``SimConfig``'s own ``tenant_id``, seed,
scale, ...) and any number more (``SimConfig.tenants``, one ``TenantSpec`` each), as
ServiceTitan answers every tenant at one base URL and one auth URL. ``tenant_configs()``
gives each tenant's settings as a ``SimConfig`` of its own: what one tenant is (seed,
scale, time zone, business-unit names, credentials) is its own; what the server is (its
one clock, the rate limit per (app key, tenant), token lifetime, export page size) is the
primary's for all.

The fake credentials below are the only credentials that appear in the project's code; they
open nothing but this simulator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SIM_CLIENT_ID = "sim-client"
SIM_CLIENT_SECRET = "sim-secret"
SIM_APP_KEY = "sim-app-key"
SIM_TENANT_ID = "1000"
SIM_TIME_ZONE = "America/Phoenix"  # the demo tenant's (Arizona keeps no daylight saving)
# ServiceTitan's path parameter {tenant} is an int64 (the OpenAPI specs)
TENANT_ID = re.compile(r"[1-9][0-9]{0,18}")

DEFAULT_NOW = datetime(2025, 10, 1, 12, tzinfo=UTC)
TIMELINE_START = datetime(2022, 1, 1, tzinfo=UTC)
# Before anything the simulator serves: customers and locations predate TIMELINE_START by up
# to two years. A backfill from here copies the whole simulated tenant.
HISTORY_START = datetime(2019, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FaultSettings:
    """Faults that can be set at start and changed at runtime (POST /_sim/faults).

    Declared once for both the runtime settings (``FaultConfig``) and the start-time ones
    (``SimConfig``, which carries them next to the tenant's).

    Counts (``burst_429``, ``truncate_pages``, ``malformed_pages``) are consumed as requests
    hit them; ``fault_entity``/``fault_page`` narrow truncation/malformation to one entity
    (and page); ``damage_same_request`` sends every damaged copy to the request that got
    the first one, so its retries exhaust and its window fails. ``edit_after_page``: after
    serving that page of a list fetch (of ``edit_entity`` if set), ``edit_count`` visible
    records get ``modifiedOn = now``, once. ``denied_modules``: API modules (``payroll``,
    ``jpm``, ... the registry's ``Entity.module``) the app's scopes exclude: their
    endpoints answer 403, as ServiceTitan does for an app without that API scope.
    ``hide_fraction``: list endpoints (of ``hide_entity`` if set) silently leave out that
    share of the records, ``totalCount`` included: an API that suddenly answers with part
    of an entity (a revoked scope, a truncated answer), which a key scan must not take for
    deletes.

    A hostile API (``stkpi_tools.sim.hostile``), for list endpoints of ``hostile_entity``
    (all if None): ``short_pages`` pages lose their last record while ``totalCount`` stays
    as it was; ``repeat_pages`` pages serve a record of the page before in place of their
    last one (one repeated, one skipped); ``early_end_pages`` pages say ``hasMore: false``
    too soon; each is consumed as pages are served. ``bad_records``: records served damaged
    on every read until the setting changes (as a record in ServiceTitan stays bad until
    someone fixes it), each ``"<entity>/<id>/<kind>"`` with kind ``surrogate`` (a lone
    UTF-16 surrogate in a string), ``huge_int`` (an integer id beyond 64 bits in a typed
    field), ``huge_number`` (a number beyond a double) or ``future`` (``modifiedOn`` in
    2099). ``redirect_requests``: that many API requests answer ``307`` to the same path on
    another host name, which counts whatever credentials arrive there.
    ``newline_tokens``: that many tokens are issued with a line break inside (a header
    value no client can send). ``credentials_revoked``: the tenant's admin revoked the
    app's client credentials: its tokens stop working at once and the token endpoint
    answers its client id ``401 invalid_client`` until the setting changes back.

    Answer time (``latency_seconds``): ``latency_ms`` fixed per request plus
    ``latency_per_record_ms`` for every record the request asks for (its ``pageSize``), so
    a page of 5,000 takes longer than a count request of one record, as on the real API.
    """

    latency_ms: int = 0  # the fixed part of every API answer (before the per-record part)
    latency_per_record_ms: float = 0.0  # added per record requested (pageSize)
    error_rate: float = 0.0
    burst_429: int = 0
    truncate_pages: int = 0
    malformed_pages: int = 0
    fault_entity: str | None = None
    fault_page: int | None = None
    damage_same_request: bool = False  # damaged copies all go to the first request hit
    edit_after_page: int | None = None
    edit_count: int = 0
    edit_entity: str | None = None
    denied_modules: tuple[str, ...] = ()
    hide_fraction: float = 0.0
    hide_entity: str | None = None
    hostile_entity: str | None = None
    short_pages: int = 0
    repeat_pages: int = 0
    early_end_pages: int = 0
    bad_records: tuple[str, ...] = ()
    redirect_requests: int = 0
    newline_tokens: int = 0
    credentials_revoked: bool = False


@dataclass(frozen=True)
class FaultConfig(FaultSettings):
    """The fault settings in force, and how they change and slow answers down."""

    def updated(self, **changes: Any) -> FaultConfig:
        """A copy with ``changes``; unknown names are a clear error, not silently ignored."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        for name in ("latency_ms", "latency_per_record_ms"):
            if name in changes and float(changes[name]) < 0:
                raise ValueError(f"{name} must be >= 0, got {changes[name]}")
        if "hide_fraction" in changes and not 0 <= float(changes["hide_fraction"]) < 1:
            raise ValueError(f"hide_fraction must be in [0, 1), got {changes['hide_fraction']}")
        for name in ("denied_modules", "bad_records"):  # a JSON list over the admin API
            if name in changes:
                value = changes[name] or ()
                changes[name] = (value,) if isinstance(value, str) else tuple(value)
        return replace(self, **changes)

    def latency_seconds(self, records: int) -> float:
        """How long an API request for ``records`` records takes to answer.

        Records *requested* (``pageSize``), not returned: that is the figure the client
        chooses and knows before it sends, so the benchmark charges a design for its own
        choices (pages of 5,000, count requests of one record). We have no measurement of
        how much faster ServiceTitan answers a part-full page; the two models differ only
        on a window's last page and on windows smaller than a page, where charging the
        requested size is the upper bound and so never flatters a design that asks for
        pages it cannot fill."""
        per_record = self.latency_per_record_ms * max(0, records)
        return max(0.0, (self.latency_ms + per_record) / 1000)


@dataclass(frozen=True)
class SimConfig(FaultSettings):
    """Everything that decides the simulated tenant and how the server behaves: the
    start-time faults (``FaultSettings``) and the fields below."""

    scale: float = 0.002
    seed: int = 42
    now: datetime = DEFAULT_NOW
    horizon_days: int = 60  # the timeline runs past ``now`` so advancing the clock shows news
    rate_limit_per_second: float = 60.0
    token_ttl_seconds: int = 900
    tenant_id: str = SIM_TENANT_ID
    client_id: str = SIM_CLIENT_ID
    client_secret: str = SIM_CLIENT_SECRET
    app_key: str = SIM_APP_KEY
    export_page_size: int = 500
    report_interval_seconds: float = 60.0  # Reporting API: the same report once a minute
    # Another tenant's business-unit names, one for each of catalog.BUSINESS_UNITS in its
    # order (same roles and volumes, other names): a tenant whose configuration is not the
    # demo's (sql/seeds), for tests of `stkpi tenant init`. Empty: the catalog's names.
    bu_names: tuple[str, ...] = ()
    # The tenant's time zone: the Reporting API's local dates (ServiceTitan's reports are
    # in the tenant's zone). Generated instants are UTC whatever it is.
    time_zone: str = SIM_TIME_ZONE
    display_name: str = "Desert Painting (simulated)"
    # More tenants the same server answers for, each with its own data and credentials.
    tenants: tuple[TenantSpec, ...] = ()

    def faults(self) -> FaultConfig:
        """The start-time fault settings."""
        names = {f.name for f in fields(FaultSettings)}
        return FaultConfig(**{n: getattr(self, n) for n in names})

    def tenant_configs(self) -> tuple[SimConfig, ...]:
        """Every tenant's settings, the primary (this one) first. An added tenant gets the
        server's settings and none of the primary's start-time faults (a fault is one
        tenant's). Raises ValueError when two tenants share an id or a client id (the token
        endpoint tells tenants apart by their client id), or a field is unusable."""
        primary = replace(self, tenants=())
        no_faults = {f.name: getattr(_NO_FAULTS, f.name) for f in fields(FaultSettings)}
        added = tuple(replace(primary, **no_faults, **spec.fields()) for spec in self.tenants)
        configs = (primary, *added)
        for config in configs:
            _check(config)
        for name in ("tenant_id", "client_id"):
            values = [getattr(c, name) for c in configs]
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                raise ValueError(f"simulated tenants share a {name}: {', '.join(twice)}")
        return configs


_NO_FAULTS = FaultSettings()


def _check(config: SimConfig) -> None:
    where = f"simulated tenant {config.tenant_id!r}"
    if not TENANT_ID.fullmatch(config.tenant_id):
        raise ValueError(f"{where}: tenant id must be ServiceTitan's (a positive int64)")
    if not 0 < config.scale <= 5:
        raise ValueError(f"{where}: scale must be in (0, 5], got {config.scale}")
    try:
        ZoneInfo(config.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{where}: time zone {config.time_zone!r} is not an IANA zone") from None


@dataclass(frozen=True)
class TenantSpec:
    """One more tenant a simulator serves: its own data (``seed``, ``scale``, ``bu_names``),
    time zone and fake credentials (by default ``sim-client-<id>``, ``sim-secret-<id>``,
    ``sim-app-key-<id>``: distinct from every other tenant's)."""

    tenant_id: str
    seed: int
    scale: float = 0.002
    time_zone: str = SIM_TIME_ZONE
    display_name: str = ""
    bu_names: tuple[str, ...] = ()
    client_id: str = ""
    client_secret: str = ""
    app_key: str = ""

    def fields(self) -> dict[str, Any]:
        """The ``SimConfig`` fields this tenant sets."""
        tid = self.tenant_id
        return {
            "tenant_id": tid,
            "seed": self.seed,
            "scale": self.scale,
            "time_zone": self.time_zone,
            "display_name": self.display_name or f"Simulated tenant {tid}",
            "bu_names": tuple(self.bu_names),
            "client_id": self.client_id or f"{SIM_CLIENT_ID}-{tid}",
            "client_secret": self.client_secret or f"{SIM_CLIENT_SECRET}-{tid}",
            "app_key": self.app_key or f"{SIM_APP_KEY}-{tid}",
        }


_SPEC_FIELDS = {f.name for f in fields(TenantSpec)} - {"tenant_id"}


def tenant_specs(doc: Mapping[str, Any], where: str = "tenants") -> tuple[TenantSpec, ...]:
    """``TenantSpec``s from data: a mapping of tenant id to its fields, as terraform's
    ``tenants`` variable is keyed (``display_name``, ``seed``, ``scale``, ``time_zone``,
    ``bu_names``, credentials; a field terraform reads and the simulator does not, such as
    ``weeks_start``, is skipped). Raises ValueError naming ``where`` and the field."""
    if not isinstance(doc, Mapping):
        raise ValueError(f"{where}: expected an object of tenant id -> settings")
    specs = []
    for tid, entry in doc.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: tenant {tid!r}: expected an object of settings")
        if "seed" not in entry:
            raise ValueError(f"{where}: tenant {tid!r}: needs a seed (its own data)")
        try:
            values = {k: v for k, v in entry.items() if k in _SPEC_FIELDS}
            values["seed"] = int(values["seed"])
            values["scale"] = float(values.get("scale", TenantSpec.scale))
            values["bu_names"] = tuple(values.get("bu_names", ()))
            specs.append(TenantSpec(tenant_id=str(tid), **values))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: tenant {tid!r}: {exc}") from None
    return tuple(specs)


def load_tenant_specs(path: Path) -> tuple[TenantSpec, ...]:
    """``tenant_specs`` of a JSON file (``{"<id>": {...}}``, or ``{"tenants": {...}}`` as a
    terraform variables file holds it)."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    if isinstance(doc, Mapping) and set(doc) == {"tenants"}:
        doc = doc["tenants"]
    return tenant_specs(doc, str(path))
