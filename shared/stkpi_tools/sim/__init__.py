"""A ServiceTitan API simulator: a deterministic painting-contractor tenant served over HTTP.

The pipeline cannot reach the real API from here, so tests, benchmarks and chaos runs point
the client at this server instead. Routes are derived from ``stkpi.registry`` (no endpoint
strings live here), records are generated lazily from compact numpy arrays so production
volumes build in seconds, and faults can be injected at start or at runtime.

Modules: ``config`` (SimConfig, fake credentials), ``clock`` (time helpers), ``entities``
(per entity: its generator step, renderer, seed code, ids and volume), ``generate``
(arrays), ``records`` (one dict per record on demand), ``tenant`` (visibility, filters,
edits), ``faults``, ``ratelimit``, ``auth``, ``server`` (Flask app + in-process runner),
``admin`` (HTTP client for the ``/_sim`` endpoints).
"""
