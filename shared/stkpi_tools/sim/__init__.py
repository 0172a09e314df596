"""A ServiceTitan API simulator: deterministic painting-contractor tenants served over HTTP.

One server answers for one tenant or several (``SimConfig.tenants``; ``stkpi sim serve
--tenants FILE``), as ServiceTitan answers every tenant at one base URL and one auth URL:
each tenant has its own seed and scale (its data), time zone (its reports' local dates),
business-unit names, fake credentials (a token opens its own tenant only), rate budget and
faults; the clock is one for all. The admin API addresses one tenant (``?tenant=``, default
the primary); ``SimHandle.of(id)`` and ``SimAdmin.of(id)`` steer another (docs/TENANTS.md,
"local stack and simulator").

The pipeline cannot reach the real API from here, so tests, benchmarks and chaos runs point
the client at this server instead. Routes are derived from ``stkpi.registry`` (no endpoint
strings live here), records are generated lazily from compact numpy arrays so production
volumes build in seconds, and faults can be injected at start or at runtime.

Modules: ``config`` (SimConfig, TenantSpec, fake credentials), ``clock`` (time helpers,
the shared clock), ``entities`` (per entity: its generator step, renderer, seed code, ids
and volume), ``generate`` (arrays), ``records`` (one dict per record on demand), ``tenant``
(visibility, filters, edits), ``faults``, ``ratelimit``, ``auth``, ``state`` (each tenant's
tokens, limiter and faults), ``server`` (Flask app + in-process runner), ``admin`` (HTTP
client for the ``/_sim`` endpoints).
"""
