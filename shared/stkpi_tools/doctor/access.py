"""Can the pipeline get in: the token, the app key and tenant, and each endpoint's scope.

Checks 1 to 4, judged from what the session saw (``observer``): each failure names the
setting to fix (``ST_AUTH_URL``, ``ST_CLIENT_ID`` / ``ST_CLIENT_SECRET``, ``ST_APP_KEY``,
``ST_TENANT_ID``) or the API scope to enable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from stkpi.config import Settings
from stkpi.servicetitan import AuthError, MalformedPageError
from stkpi_tools.doctor.observer import Observer, Probe
from stkpi_tools.doctor.report import Check

# OAuth error codes of the token endpoint -> what to fix.
_TOKEN_FIXES = {
    "invalid_client": "the client id or secret is wrong: check ST_CLIENT_ID / ST_CLIENT_SECRET",
    "unauthorized_client": (
        "the client may not use the client_credentials grant: check ST_CLIENT_ID is the "
        "app's client id from the ServiceTitan developer portal"
    ),
    "invalid_grant": "the credentials were refused: check ST_CLIENT_ID / ST_CLIENT_SECRET",
    "invalid_scope": "the app's scopes were refused: check the app in the developer portal",
    "unsupported_grant_type": (
        "the server does not grant client_credentials: is ST_AUTH_URL ServiceTitan's auth "
        "server (https://auth.servicetitan.io)?"
    ),
}


def auth_checks(settings: Settings, seen: Observer, first: Probe) -> list[Check]:
    """Checks 1 and 2 from what the first request's token exchange saw."""
    token_url = f"{settings.st_auth_url}/connect/token"
    status = seen.token_status
    if status is None:
        reason = first.error.reason if first.error is not None else "no answer"
        return [
            Check(
                "auth server reachable",
                "fail",
                f"no answer from {token_url}: {reason}",
                "check ST_AUTH_URL (production: https://auth.servicetitan.io) and the "
                "network or proxy between here and it",
            )
        ]
    if status in (404, 405):
        return [
            Check(
                "auth server reachable",
                "fail",
                f"{token_url} answered HTTP {status}: there is no token endpoint there",
                "check ST_AUTH_URL (production: https://auth.servicetitan.io)",
            )
        ]
    reachable = Check("auth server reachable", "ok", f"{token_url} answered (HTTP {status})")
    if status == 429 or status >= 500:
        return [
            reachable,
            Check(
                "token granted",
                "fail",
                f"the auth server answered HTTP {status} on every try",
                "transient on ServiceTitan's side: run `stkpi doctor` again in a few minutes",
            ),
        ]
    if not seen.token_granted:
        if status == 200:
            detail = "the auth server answered HTTP 200 without an access_token"
            fix = "is ST_AUTH_URL ServiceTitan's auth server (https://auth.servicetitan.io)?"
        else:
            code = seen.token_error or "no error code"
            detail = f"the auth server refused the client credentials: HTTP {status}, {code}"
            if seen.token_error_description:
                detail += f" ({seen.token_error_description})"
            fix = _TOKEN_FIXES.get(
                seen.token_error or "",
                "check ST_CLIENT_ID / ST_CLIENT_SECRET and that ST_AUTH_URL is the auth server "
                "of the same environment as ST_API_BASE_URL",
            )
        return [reachable, Check("token granted", "fail", detail, fix)]
    ttl = f", valid {seen.token_ttl:g} s" if seen.token_ttl is not None else ""
    return [reachable, Check("token granted", "ok", f"client credentials accepted{ttl}")]


def _summarize(probes: Sequence[Probe]) -> str:
    statuses = Counter(p.status for p in probes if not p.ok)
    return ", ".join(
        f"{'no answer' if s is None else f'HTTP {s}'} x{n}" for s, n in statuses.most_common()
    )


def access_check(settings: Settings, seen: Observer, probes: Sequence[Probe]) -> Check:
    """Check 3: the app key and tenant, judged from every endpoint's answer."""
    tenant = settings.st_tenant_id
    name = "app key and tenant"
    answered = [p for p in probes if p.ok]
    if answered:
        return Check(
            name,
            "ok",
            f"app key accepted, tenant {tenant} known ({len(answered)} of {len(probes)} "
            "endpoints answered)",
        )
    first = probes[0].error
    said = first.reason if first is not None else ""
    if seen.api_answers == 0:
        return Check(
            name,
            "fail",
            f"no answer from {settings.st_api_base_url}: {said}",
            "check ST_API_BASE_URL (production: https://api.servicetitan.io) and the network",
        )
    statuses = {p.status for p in probes}
    if statuses == {401}:
        return Check(
            name,
            "fail",
            f"the API refused the granted token (HTTP 401 after a refresh): {said}",
            "ST_AUTH_URL and ST_API_BASE_URL must be the same ServiceTitan environment "
            "(production or integration), and ST_CLIENT_ID an app of that environment",
        )
    if statuses == {404}:
        return Check(
            name,
            "fail",
            f"tenant {tenant} not found: every endpoint answered HTTP 404 ({said})",
            "check ST_TENANT_ID (the tenant id the app is connected to)",
        )
    if statuses == {403}:
        return Check(
            name,
            "fail",
            f"every endpoint answered HTTP 403 ({said})",
            "check ST_APP_KEY (the app key of the app in the ServiceTitan developer portal) "
            f"and that the app is connected to tenant {tenant} (ST_TENANT_ID); if both are "
            "right, the app has none of the API scopes: enable them in the developer portal",
        )
    return Check(
        name,
        "fail",
        f"no endpoint answered ({_summarize(probes)}): {said}",
        "check ST_API_BASE_URL and ST_TENANT_ID; run `stkpi doctor` again if ServiceTitan "
        "was failing",
    )


def endpoint_check(probe: Probe) -> Check:
    entity = probe.entity
    name = f"endpoint {entity.name}"
    data: dict[str, Any] = {"entity": entity.name, "module": entity.module, "path": probe.path}
    if probe.error is None:
        data["count"] = probe.count
        if probe.count is None:
            detail = f"{probe.path}: reachable (no totalCount in the answer)"
            return Check(name, "ok", detail, data=data)
        return Check(name, "ok", f"{probe.path}: {probe.count:,} records", data=data)
    error, status = probe.error, probe.status
    data["http_status"] = status
    detail = f"{probe.path}: {error.reason}"
    if status == 403:
        fix = (
            f"enable the {entity.module} API scope for the app in the ServiceTitan developer portal"
        )
    elif status == 404:
        fix = "the API has no such endpoint here: check ST_API_BASE_URL (API v2)"
    elif isinstance(error, MalformedPageError):
        fix = "the answer is not a ServiceTitan page: check ST_API_BASE_URL"
    elif status == 429:
        fix = "throttled: lower ST_RATE_LIMIT_PER_SECOND, or run again when other apps are idle"
    elif isinstance(error, AuthError) or (status is not None and 400 <= status < 500):
        fix = "the API refused this request: see its message"
    else:
        fix = "transient on ServiceTitan's side or the network: run `stkpi doctor` again"
    return Check(name, "warn", detail, fix, data=data)
