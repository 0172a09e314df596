"""Everything a running simulator holds, and the admin operations on it.

Shared by the HTTP admin endpoints (``/_sim/...``) and the in-process ``SimHandle`` so both
behave identically.

A simulator serves one or more tenants (``SimConfig.tenants``). Each has a ``TenantSim`` of
its own: its data, its tokens, its rate limiter (buckets per (app key, tenant), as
ServiceTitan's), its faults and counters, its Reporting API limiter. Nothing of one tenant
is another's, so a fault injected into one cannot touch another; only the clock is shared
(one instant for all). ``SimState`` is the simulator: its primary tenant's ``TenantSim``
(every caller written for one tenant keeps working unchanged) that also holds the others
(``of(tenant_id)``).
"""

from __future__ import annotations

import threading
from typing import Any

from stkpi_tools.sim.auth import TokenStore
from stkpi_tools.sim.clock import SimClock, parse_time, to_epoch
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.faults import FaultState
from stkpi_tools.sim.ratelimit import RateLimiter, ReportLimiter
from stkpi_tools.sim.reports import RecordSource
from stkpi_tools.sim.tenant import Tenant


class ReportSnapshots:
    """The records the Reporting API computes from, rendered once per tenant state.

    A daily reconciliation asks for six reports within a few seconds; each used to render
    every job, customer and invoice of the tenant again (about 10 CPU seconds at
    production scale, the simulator's cost, not the pipeline's). Reports only read them."""

    def __init__(self, tenant: Tenant) -> None:
        self._tenant = tenant
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._records: dict[str, list[dict[str, Any]]] = {}

    def __call__(self, name: str) -> list[dict[str, Any]]:
        key = self._tenant.state_key()
        with self._lock:
            if key != self._key:
                self._key, self._records = key, {}
            if name not in self._records:
                self._records[name] = self._tenant.snapshot(name)
            return self._records[name]


class UnknownTenant(KeyError):
    """A tenant id the simulator does not serve."""


class TenantSim:
    """Tenant, tokens, rate limiter and faults of one tenant a simulator serves."""

    def __init__(
        self, config: SimConfig, tenant: Tenant | None = None, clock: SimClock | None = None
    ) -> None:
        self.config = config
        self.tenant = tenant if tenant is not None else Tenant(config, clock)
        self.tokens = TokenStore(config.token_ttl_seconds)
        self.limiter = RateLimiter(config.rate_limit_per_second)
        self.faults = FaultState(config.faults(), config.seed)
        # The Reporting API: once a minute per report, computed from these records (the
        # generated tenant; a test may serve a hand-made fixture tenant instead).
        self.report_limiter = ReportLimiter(config.report_interval_seconds)
        self.report_source: RecordSource = ReportSnapshots(self.tenant)

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change fault settings; ``revoke_tokens=True`` invalidates every issued token
        (so does revoking the credentials)."""
        if changes.pop("revoke_tokens", False) or changes.get("credentials_revoked"):
            self.tokens.revoke_all()
            self.faults.count("tokens_revoked")
        if "rate_limit_per_second" in changes:
            self.limiter.per_second = float(changes.pop("rate_limit_per_second"))
            self.limiter.reset()
        self.report_limiter.reset()
        if "token_ttl_seconds" in changes:
            self.tokens.ttl_seconds = int(changes.pop("token_ttl_seconds"))
        config = self.faults.update(**changes)
        return self.fault_settings() | {"fault": config.__dict__}

    def fault_settings(self) -> dict[str, Any]:
        return {
            **self.faults.config.__dict__,
            "rate_limit_per_second": self.limiter.per_second,
            "token_ttl_seconds": self.tokens.ttl_seconds,
        }

    def set_clock(self, now: str | None = None, advance_hours: float | None = None) -> str:
        if now is not None:
            self.tenant.set_now(parse_time(now))
        if advance_hours is not None:
            self.tenant.advance(float(advance_hours))
        return self.tenant.now_iso()

    def stats(self) -> dict[str, Any]:
        snap = self.faults.snapshot()
        counters = snap["counters"]
        return {
            "requests": counters.get("requests", 0),
            "throttled_429": counters.get("status_429", 0),
            "server_errors_5xx": sum(v for k, v in counters.items() if k.startswith("status_5")),
            "report_throttled_429": counters.get("report_429", 0),
            "tokens_issued": self.tokens.issued,
            "counters": counters,
            "paths": snap["paths"],
            "now": self.tenant.now_iso(),
        }

    def reset(self) -> None:
        """Clear counters, faults and rate buckets (the tenant's clock and edits stay)."""
        self.faults.reset()
        self.limiter.per_second = self.config.rate_limit_per_second
        self.limiter.reset()
        self.report_limiter.reset()

    def describe(self) -> dict[str, Any]:
        """Who this tenant is: id, name, data, time zone and its fake credentials (they
        open nothing but this simulator; the local stack writes them as its secrets)."""
        c = self.config
        return {
            "tenant_id": c.tenant_id, "display_name": c.display_name, "seed": c.seed,
            "scale": c.scale, "time_zone": c.time_zone, "client_id": c.client_id,
            "client_secret": c.client_secret, "app_key": c.app_key,
        }  # fmt: skip


class SimState(TenantSim):
    """The simulator: its primary tenant (``config``'s own) and every tenant it serves."""

    def __init__(self, config: SimConfig, tenant: Tenant | None = None) -> None:
        primary, *others = config.tenant_configs()
        clock = tenant.clock if tenant is not None else SimClock(to_epoch(config.now))
        super().__init__(primary, tenant, clock)
        self.tenants: dict[str, TenantSim] = {primary.tenant_id: self}
        for other in others:
            self.tenants[other.tenant_id] = TenantSim(other, clock=clock)

    def of(self, tenant_id: str | None = None) -> TenantSim:
        """Tenant ``tenant_id``'s state (None: the primary's); UnknownTenant if not served."""
        if tenant_id is None:
            return self
        try:
            return self.tenants[str(tenant_id)]
        except KeyError:
            served = ", ".join(self.tenants)
            raise UnknownTenant(
                f"tenant {tenant_id!r} is not simulated (served: {served})"
            ) from None

    def by_client(self, client_id: str | None) -> TenantSim | None:
        """The tenant whose client id is ``client_id`` (the token endpoint's question)."""
        return next((t for t in self.tenants.values() if t.config.client_id == client_id), None)
