"""API profiles the benchmark runs against: ServiceTitan's real one and the old friendly one.

A profile is what the simulator lets a client do (requests/s per app and tenant, the
largest page) and how long it takes to answer (fixed + per record requested, see
``stkpi_tools.sim.config.FaultConfig.latency_seconds``). The pipeline is deployed for it
through terraform's own variables (``deployment_variables``): the tenant's limit, the whole
of it for the pipeline (the benchmark's tenant has no other app) split into fetch instances
of ``fetch_rate_per_instance``, and the largest page. So the lanes, the instances and the
pages in flight are the ones ``terraform apply`` would give that tenant, not an override
that the local stack would have to split by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from stkpi_tools.sim.config import FaultConfig


@dataclass(frozen=True)
class Profile:
    """One API profile: limits and answer time."""

    name: str
    rate_limit: float  # requests/s per (app key, tenant)
    page_size: int  # records per page the client asks for
    latency_ms: int  # fixed part of every answer
    latency_per_record_ms: float  # added per record requested
    # Requests/s of one fetch instance (terraform's fetch_rate_per_instance): the limit
    # over this is the number of fetch instances, hence of window lanes.
    fetch_rate_per_instance: float = 5.0

    @property
    def ceiling(self) -> float:
        """Records/s no client can beat: every allowed request returns a full page."""
        return self.rate_limit * self.page_size

    def latency_seconds(self, records: int) -> float:
        """The simulator's answer time for a request of ``records`` (the same model)."""
        return FaultConfig(
            latency_ms=self.latency_ms, latency_per_record_ms=self.latency_per_record_ms
        ).latency_seconds(records)

    @property
    def in_flight_needed(self) -> float:
        """Requests that must be in flight to use the whole rate limit with full pages
        (Little's law: rate x answer time). Fewer, and the answer time, not the limit,
        bounds the fetch."""
        return self.rate_limit * self.latency_seconds(self.page_size)

    def sim_faults(self) -> dict[str, Any]:
        """The simulator settings (``/_sim/faults``) that make it answer like this API."""
        return {
            "latency_ms": self.latency_ms,
            "latency_per_record_ms": self.latency_per_record_ms,
            "rate_limit_per_second": self.rate_limit,
        }

    def deployment_variables(self) -> dict[str, Any]:
        """Terraform variables of a deployment for this API (terraform/variables.tf)."""
        return {
            "tenant_rate_limit_per_second": self.rate_limit,
            "rate_limit_safety_factor": 1.0,
            "fetch_rate_per_instance": min(self.fetch_rate_per_instance, self.rate_limit),
            "st_page_size": self.page_size,
        }

    def label(self) -> str:
        answer = f"{self.latency_ms} ms"
        if self.latency_per_record_ms:
            answer += f" + {self.latency_per_record_ms:g} ms/record"
        return (
            f"{self.name}: {self.rate_limit:g} req/s x {self.page_size:,} = ceiling "
            f"{self.ceiling:,.0f} records/s; answers in {answer} "
            f"({1000 * self.latency_seconds(self.page_size):,.0f} ms a full page)"
        )

    def with_overrides(self, **changes: Any) -> Profile:
        """A copy with the non-None ``changes`` (the CLI's explicit options)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


# ServiceTitan: 60 requests/s per app and tenant, pages of up to 5,000. Answer time ~1 s
# for a full page, ~80 ms for a one-record request (80 ms + 0.184 ms x records).
# Fetch instances of 10 requests/s: 6 of them, 10 pages in flight each (a page ~1 s).
ST = Profile(
    "st",
    rate_limit=60.0,
    page_size=5000,
    latency_ms=80,
    latency_per_record_ms=0.184,
    fetch_rate_per_instance=10.0,
)
# The benchmark's profile until issue #19: slower limit, small pages, fixed 200 ms answers.
# Two fetch instances of 5 requests/s: two lanes share the limit.
FRIENDLY = Profile(
    "friendly",
    rate_limit=10.0,
    page_size=500,
    latency_ms=200,
    latency_per_record_ms=0.0,
    fetch_rate_per_instance=5.0,
)
PROFILES: dict[str, Profile] = {p.name: p for p in (ST, FRIENDLY)}


def parse_profiles(text: str) -> tuple[Profile, ...]:
    """``"st,friendly"`` -> the profiles, in that order; an unknown name is a ValueError."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PROFILES]
    if unknown or not names:
        known = ", ".join(PROFILES)
        raise ValueError(f"{text!r}: profiles are {known} (comma-separated)")
    return tuple(PROFILES[n] for n in dict.fromkeys(names))
