"""Everything a pipeline step needs, built once per process from the environment.

Cloud Functions keeps module-scope objects while an instance is warm, so the entry points
build one ``PipelineContext`` at import and reuse its clients (connection pools, tokens)
across deliveries.

That context is the deployment's, and serves its default tenant. A message naming an
added tenant runs in that tenant's context (:meth:`PipelineContext.for_tenant`,
``stkpi.tenant_contexts``): the tenant's settings (``stkpi.tenants.settings_for``: its
datasets, landing root, clock, credentials), the deployment's Google clients, and a
ServiceTitan client of its own (its own token bucket: ServiceTitan's limit is per app key
and tenant), kept while the instance is warm.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from stkpi import gcp
from stkpi.bus import Bus
from stkpi.clock import Clock, tenant_clock, wall_clock
from stkpi.config import Settings, load_settings
from stkpi.landing import Landing
from stkpi.state import OpsState
from stkpi.warehouse import Warehouse

if TYPE_CHECKING:
    from stkpi.servicetitan import ServiceTitanClient
    from stkpi.tenant_contexts import TenantContexts
    from stkpi.tenants import Tenant


def utc_now() -> datetime:
    return wall_clock()


@dataclass
class PipelineContext:
    """``now``: the machine's clock (leases, event and ingestion times).
    :meth:`tenant_now`: the tenant's present (stkpi.clock), which plans runs and dates what
    is judged and reported."""

    settings: Settings
    now: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic
    clock: Clock | None = None
    _faults: dict[str, str] = field(default_factory=dict)
    # The added tenant this context serves (None: the deployment's default tenant), and the
    # deployment's context it was made from (None: this one is the deployment's).
    tenant: Tenant | None = None
    deployment: PipelineContext | None = None

    def for_tenant(self, tenant_id: str | None) -> PipelineContext:
        """The context of the tenant a message names: this one for the default tenant
        (``None`` or its id), else the added tenant's, from the deployment's registry.
        Raises ``stkpi.tenant_contexts.UnknownTenantError`` for a tenant not registered."""
        if self.deployment is not None:
            return self.deployment.for_tenant(tenant_id)
        if tenant_id is None:
            return self
        return self._tenants.get(tenant_id)

    @cached_property
    def _tenants(self) -> TenantContexts:
        from stkpi.tenant_contexts import TenantContexts

        return TenantContexts(self)

    def tenant_now(self) -> datetime:
        """The tenant's present: ``clock`` if given, else ``TENANT_CLOCK_URL``'s or the wall
        clock (stkpi.clock)."""
        return (self.clock or self._settings_clock)()

    @cached_property
    def _settings_clock(self) -> Clock:
        return tenant_clock(self.settings.tenant_clock_url)

    @cached_property
    def landing(self) -> Landing:
        if self.deployment is not None:
            return self.deployment.landing.under(self.settings.landing_root)
        return Landing(
            gcp.storage_client(self.settings),
            self.settings.landing_bucket,
            self.settings.landing_root,
        )

    @cached_property
    def bigquery(self):
        if self.deployment is not None:
            return self.deployment.bigquery  # one project, one client: datasets differ
        return gcp.bigquery_client(self.settings)

    @cached_property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.bigquery, self.settings)

    @cached_property
    def state(self) -> OpsState:
        return OpsState(self.bigquery, self.settings)

    @cached_property
    def bus(self) -> Bus:
        if self.deployment is not None and self.tenant is not None:
            return self.deployment.bus.with_tenant(self.tenant.tenant_id)
        return Bus(gcp.publisher(self.settings), self.settings)

    @property
    def st_settings(self) -> Settings:
        """The settings with ServiceTitan's credentials filled in, read from Secret Manager
        at first need (``stkpi.secrets``); raises MissingSecretError until they exist."""
        from stkpi.secrets import with_credentials

        return with_credentials(self.settings)

    @cached_property
    def servicetitan(self) -> ServiceTitanClient:
        from stkpi.servicetitan import ServiceTitanClient

        return ServiceTitanClient(self.st_settings, reread=self._reread_credentials)

    def _reread_credentials(self) -> Settings:
        """The credentials read again where they are always read (``stkpi.secrets``), past
        its cache: asked once when ServiceTitan refuses a fresh token, as a secret rotated
        under a warm instance would make it."""
        from stkpi.secrets import forget

        forget()
        return self.st_settings


def from_env() -> PipelineContext:
    return PipelineContext(load_settings())
