"""The doctor's run: every check in order, later ones skipped when an earlier one rules
them out, through one ServiceTitan client with a quick retry policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import requests

from stkpi.config import Settings
from stkpi.registry import ENTITIES, Entity
from stkpi.servicetitan import RetryPolicy, ServiceTitanClient
from stkpi.servicetitan.errors import Redactor
from stkpi_tools.doctor.access import access_check, auth_checks, endpoint_check
from stkpi_tools.doctor.capacity import estimate_check, rate_limit_check
from stkpi_tools.doctor.observer import Observer, probe
from stkpi_tools.doctor.report import Report, clean

# A doctor answers in seconds: few retries, short waits (the pipeline's policy is patient).
DOCTOR_RETRY = RetryPolicy(
    max_attempts=2,
    backoff_base=0.25,
    backoff_max=1.0,
    max_throttled=3,
    retry_after_cap=5.0,
    max_malformed=1,
)
DEFAULT_SINCE = date(2000, 1, 1)


def run_doctor(
    settings: Settings,
    *,
    since: date = DEFAULT_SINCE,
    entities: Sequence[Entity] = ENTITIES,
    now: datetime | None = None,
) -> Report:
    """Every check, in order; later checks are skipped when an earlier one rules them out."""
    redact = Redactor(
        s.get_secret_value()
        for s in (settings.st_client_id, settings.st_client_secret, settings.st_app_key)
        if s is not None
    )
    seen = Observer(redact)
    tenant = settings.st_tenant_id or ""
    start = datetime.combine(since, time(), UTC)
    end = datetime.combine((now or datetime.now(UTC)).date() + timedelta(days=2), time(), UTC)
    shown = {
        "api_base_url": settings.st_api_base_url,
        "auth_url": settings.st_auth_url,
        "tenant_id": tenant,
        "page_size": settings.st_page_size,
        "rate_limit_per_second": settings.st_rate_limit_per_second,
    }
    later = ["app key and tenant", *(f"endpoint {e.name}" for e in entities)]
    later += ["rate limit", "backfill estimate"]
    session = requests.Session()
    session.hooks["response"].append(seen)
    try:
        with ServiceTitanClient(settings, session=session, policy=DOCTOR_RETRY) as client:
            probes = [probe(client, entities[0], tenant, start, end)]
            checks = auth_checks(settings, seen, probes[0])
            if not seen.token_granted:
                skipped = ["token granted", *later] if len(checks) == 1 else later
                return clean(Report(checks, skipped, shown), redact)
            # Ask every endpoint once the API answered (a 401 would answer them all alike).
            if (seen.api_answers or probes[0].ok) and probes[0].status != 401:
                probes += [probe(client, e, tenant, start, end) for e in entities[1:]]
            access = access_check(settings, seen, probes)
            checks.append(access)
            if access.status == "fail":
                return clean(Report(checks, later[1:], shown), redact)
            checks += [endpoint_check(p) for p in probes]
            checks.append(rate_limit_check(settings, seen))
            checks.append(estimate_check(settings, probes, since))
            return clean(Report(checks, [], shown), redact)
    finally:
        session.close()
