"""What a backfill may ask of ServiceTitan: the rate limit and the requests it will take.

Checks 5 and 6: the limit the API states (or the configured one, saying which) and a full
backfill's records, requests and minutes at the configured rate, from the endpoints'
counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Any

from stkpi.config import Settings
from stkpi_tools.doctor.observer import Observer, Probe
from stkpi_tools.doctor.report import Check

# ServiceTitan's documented default (SERVICETITAN.md): 60 requests/s per app key and tenant.
ST_DEFAULT_RATE_LIMIT = 60.0


def rate_limit_check(settings: Settings, seen: Observer) -> Check:
    """Check 5: the limit the API states in headers, else the configured one (says which)."""
    rate = settings.st_rate_limit_per_second
    configured = f"ST_RATE_LIMIT_PER_SECOND={rate:g} requests/s"
    data: dict[str, Any] = {"configured_per_second": rate, "headers": dict(seen.rate_headers)}
    throttled = seen.api_statuses.get(429, 0)
    if seen.rate_headers:
        stated = ", ".join(f"{k}: {v}" for k, v in sorted(seen.rate_headers.items()))
        detail = f"the API states {stated}; the pipeline uses the configured {configured}"
        data["source"] = "headers"
    else:
        detail = (
            f"the API sent no rate-limit headers: using the configured {configured} "
            f"(ServiceTitan's default limit is {ST_DEFAULT_RATE_LIMIT:g}/s per app and tenant)"
        )
        data["source"] = "configured"
    if throttled:
        return Check(
            "rate limit",
            "warn",
            f"{detail}; the API answered 429 to {throttled} of the doctor's "
            f"{seen.api_answers} requests",
            "lower ST_RATE_LIMIT_PER_SECOND: other apps may share this tenant's limit",
            data=data,
        )
    if rate > ST_DEFAULT_RATE_LIMIT:
        return Check(
            "rate limit",
            "warn",
            f"{detail}; the configured rate is above ServiceTitan's default limit",
            f"set ST_RATE_LIMIT_PER_SECOND to {ST_DEFAULT_RATE_LIMIT:g} or less, unless "
            "ServiceTitan raised this tenant's limit",
            data=data,
        )
    return Check("rate limit", "ok", detail, data=data)


def estimate_check(settings: Settings, probes: Sequence[Probe], since: date) -> Check:
    """Check 6: records / ST_PAGE_SIZE = requests; requests / rate / 60 = minutes."""
    size, rate = settings.st_page_size, settings.st_rate_limit_per_second
    counted = [p for p in probes if p.ok and p.count is not None]
    records = sum(p.count or 0 for p in counted)
    requests_ = sum(max(1, math.ceil((p.count or 0) / size)) for p in counted)
    minutes = requests_ / rate / 60
    data = {
        "records": records,
        "requests": requests_,
        "minutes": round(minutes, 2),
        "page_size": size,
        "rate_per_second": rate,
        "since": since.isoformat(),
        "entities": len(counted),
    }
    detail = (
        f"{records:,} records (modified since {since.isoformat()}) / ST_PAGE_SIZE={size} = "
        f"{requests_:,} requests; at ST_RATE_LIMIT_PER_SECOND={rate:g} that is "
        f"{_minutes(minutes)}"
    )
    missing = [p.entity.name for p in probes if p not in counted]
    if missing:
        data["not_counted"] = missing
        return Check(
            "backfill estimate",
            "warn",
            f"{detail}; not counted: {', '.join(missing)}",
            "make the endpoints above answer, then run `stkpi doctor` again for the full figure",
            data=data,
        )
    return Check("backfill estimate", "ok", detail, data=data)


def _minutes(minutes: float) -> str:
    if minutes < 1:
        return f"{minutes:.2f} minutes ({minutes * 60:.0f} s)"
    if minutes >= 120:
        return f"{minutes:,.0f} minutes ({minutes / 60:,.1f} hours)"
    return f"{minutes:,.1f} minutes"
