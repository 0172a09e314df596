"""The context of each added tenant, made from the deployment's and kept while warm.

A function instance serves every tenant of its deployment. The tenant a message names is
looked up in the deployment's registry (``${ops}.tenants``, stkpi.tenants) and its context
(its settings, its ServiceTitan client and token bucket) is kept for the next message of
the same tenant. The registry is read again after ``REGISTRY_SECONDS``, so a tenant added
or changed (its time zone, its secrets) is seen within a minute by warm instances, and the
context is made again only when the tenant's row changed: an unchanged tenant keeps its
client, its token and its rate budget.

A message naming a tenant the registry does not hold is dead-lettered, replayable, with the
command that adds the tenant (:class:`UnknownTenantError`; stkpi.runtime): retrying cannot
help until someone adds it, and a replay then finishes it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from stkpi import secrets
from stkpi.errors import PermanentError
from stkpi.tenants import Tenant, TenantError, default_tenant_id, find_tenant, settings_for

if TYPE_CHECKING:
    from stkpi.context import PipelineContext

REGISTRY_SECONDS = 60.0


class UnknownTenantError(PermanentError):
    """The message names a tenant this deployment does not serve (yet)."""


def add_command(tenant_id: str) -> str:
    return f"stkpi tenant add --tenant-id {tenant_id} --name NAME --time-zone ZONE"


class TenantContexts:
    """Tenant id -> the tenant's context, for one deployment's context."""

    def __init__(
        self,
        deployment: PipelineContext,
        ttl: float = REGISTRY_SECONDS,
        find: Callable[[str], Tenant | None] | None = None,
    ) -> None:
        """``find``: a tenant's latest registry row (default: the deployment's registry)."""
        self._deployment = deployment
        self._ttl = ttl
        self._find = find or (
            lambda tenant_id: find_tenant(deployment.bigquery, deployment.settings, tenant_id)
        )
        self._lock = threading.Lock()
        # tenant id -> (when its registry row was read, the row, its context)
        self._known: dict[str, tuple[float, Tenant, PipelineContext]] = {}

    def get(self, tenant_id: str) -> PipelineContext:
        deployment = self._deployment
        default = default_tenant_id(deployment.settings)
        if tenant_id == default:
            return deployment
        now = deployment.monotonic()
        with self._lock:
            held = self._known.get(tenant_id)
        if held is not None and now - held[0] < self._ttl:
            return held[2]
        tenant = self._find(tenant_id)
        if tenant is None:
            if default is None and self._default_by_secret(tenant_id):
                return deployment
            raise UnknownTenantError(
                f"tenant {tenant_id} is not one of this deployment's tenants (not in "
                f"{deployment.settings.dataset('ops')}.tenants; `stkpi tenant list` lists "
                "them): add it with "
                f"`{add_command(tenant_id)}` (after terraform's `tenants` entry made its "
                "secrets), then replay what waited for it with `stkpi dead-letters --replay`"
            )
        with self._lock:
            held = self._known.get(tenant_id)
            ctx = held[2] if held is not None and held[1] == tenant else self._make(tenant)
            self._known[tenant_id] = (now, tenant, ctx)
        return ctx

    def _make(self, tenant: Tenant) -> PipelineContext:
        from stkpi.context import PipelineContext

        deployment = self._deployment
        try:
            settings = settings_for(deployment.settings, tenant)
        except TenantError as exc:
            raise PermanentError(
                f"tenant {tenant.tenant_id}'s registry row cannot be used: {exc}; correct it "
                f"with `{add_command(tenant.tenant_id)}`"
            ) from None
        return PipelineContext(
            settings,
            now=deployment.now,
            monotonic=deployment.monotonic,
            clock=deployment.clock,
            _faults=deployment._faults,
            tenant=tenant,
            deployment=deployment,
        )

    def _default_by_secret(self, tenant_id: str) -> bool:
        """Whether ``tenant_id`` is the default tenant's, whose id this deployment holds in
        a secret only (the functions that call ServiceTitan may read it; the others may
        not, and a message naming the default tenant by id is then refused as unknown)."""
        name = self._deployment.settings.st_secrets.get("ST_TENANT_ID")
        if name is None:
            return False
        try:
            return secrets.read(name) == tenant_id
        except Exception:  # no grant or no version: not known to be the default
            return False
