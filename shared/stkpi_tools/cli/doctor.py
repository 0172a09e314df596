"""``stkpi doctor``: check the ServiceTitan connection and API scopes before a backfill.

Reads the pipeline's settings (the environment, completed by a ``.env`` file in the current
directory; the environment wins) and asks, through the project's own ServiceTitan client,
in order: is the auth server there, does it grant a token, does the API accept the app key
and know the tenant, and does each endpoint of the registry answer (one record per page,
``includeTotal=true``: its record count, or the API scope to enable on a 403). Then the
rate limit and what a full backfill costs at the configured rate.

One line per check (a table, or one JSON document with ``--json``), each with a verdict
(ok / warn / fail), the evidence and the fix. Exit 0 when all is well, 1 on warnings (an
endpoint refused: the rest works), 2 on failures (no token, app key or tenant refused,
nothing reachable). No secret is printed: the client secret, app key, client id and every
token are replaced by ``***`` in anything shown.

The doctor talks to ServiceTitan only: ``GCP_PROJECT`` and ``LANDING_BUCKET``, required by
the pipeline's settings, get placeholders here when unset.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import requests
import typer
from rich.console import Console
from rich.table import Table

from stkpi.config import Settings, load_settings
from stkpi.registry import ENTITIES, Entity
from stkpi.servicetitan import (
    AuthError,
    FetchError,
    MalformedPageError,
    RetryPolicy,
    ServiceTitanClient,
)
from stkpi.servicetitan.errors import Redactor
from stkpi_tools.dotenv import environ_with_dotenv

Status = Literal["ok", "warn", "fail"]

# ServiceTitan's documented default (SERVICETITAN.md): 60 requests/s per app key and tenant.
ST_DEFAULT_RATE_LIMIT = 60.0
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
_PLACEHOLDERS = {"GCP_PROJECT": "unused-by-doctor", "LANDING_BUCKET": "unused-by-doctor"}

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


@dataclass
class Check:
    """One line of the doctor's answer."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    checks: list[Check]
    skipped: list[str]
    settings: dict[str, Any]

    @property
    def status(self) -> Status:
        statuses = {c.status for c in self.checks}
        if "fail" in statuses or not self.checks:
            return "fail"
        return "warn" if "warn" in statuses else "ok"

    @property
    def exit_code(self) -> int:
        return {"ok": 0, "warn": 1, "fail": 2}[self.status]

    def to_json(self) -> str:
        return json.dumps(
            {
                "status": self.status,
                "exit_code": self.exit_code,
                "settings": self.settings,
                "checks": [asdict(c) for c in self.checks],
                "skipped": self.skipped,
            },
            indent=2,
            default=str,
        )


# --- settings ------------------------------------------------------------------------------


def doctor_env(environ: Mapping[str, str], cwd: Path) -> tuple[dict[str, str], list[str]]:
    """The environment completed by ``cwd/.env`` (environment wins), and which ST_* keys
    came from the file."""
    env, from_file = environ_with_dotenv(environ, cwd)
    return env, [k for k in from_file if k.startswith("ST_")]


def doctor_settings(env: Mapping[str, str], timeout: float) -> Settings:
    """The pipeline's settings (``ConfigError`` naming every problem), ServiceTitan
    credentials required, the request timeout capped for a quick answer."""
    settings = load_settings({**_PLACEHOLDERS, **env})
    settings.require_servicetitan()
    return settings.model_copy(
        update={"st_request_timeout_seconds": min(settings.st_request_timeout_seconds, timeout)}
    )


# --- what the client's session saw ---------------------------------------------------------


class _Observer:
    """A ``requests`` response hook on the client's session: statuses, the token endpoint's
    error code and rate-limit headers. It keeps no body and no token (tokens go to the
    redactor only)."""

    def __init__(self, redact: Redactor) -> None:
        self._redact = redact
        self.token_status: int | None = None
        self.token_granted = False
        self.token_ttl: float | None = None
        self.token_error: str | None = None
        self.token_error_description: str | None = None
        self.api_statuses: Counter[int] = Counter()
        self.rate_headers: dict[str, str] = {}

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        req = response.request
        if req.method == "POST" and (req.path_url or "").split("?")[0].endswith("/connect/token"):
            self._token(response)
            return
        self.api_statuses[response.status_code] += 1
        for name, value in response.headers.items():
            if "ratelimit" in name.lower().replace("-", ""):
                self.rate_headers[name] = value

    def _token(self, response: requests.Response) -> None:
        self.token_status = response.status_code
        try:
            doc = response.json()
        except ValueError:
            return
        if not isinstance(doc, dict):
            return
        token = doc.get("access_token")
        if response.status_code == 200 and isinstance(token, str) and token:
            self._redact.add(token)
            self.token_granted = True
            ttl = doc.get("expires_in")
            self.token_ttl = float(ttl) if isinstance(ttl, int | float) else None
            return
        error, description = doc.get("error"), doc.get("error_description")
        if isinstance(error, str) and error:
            self.token_error = self._redact(error[:100])
        if isinstance(description, str) and description:
            self.token_error_description = self._redact(description[:200])

    @property
    def api_answers(self) -> int:
        return sum(self.api_statuses.values())


# --- the checks ------------------------------------------------------------------------------


@dataclass
class _Probe:
    entity: Entity
    path: str
    count: int | None = None
    error: FetchError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> int | None:
        return None if self.error is None else self.error.status


def _probe(
    client: ServiceTitanClient, entity: Entity, tenant: str, start: datetime, end: datetime
) -> _Probe:
    probe = _Probe(entity, entity.path(tenant))
    try:
        probe.count = client.window_count(entity, start, end)
    except FetchError as exc:
        probe.error = exc
    return probe


def _auth_checks(settings: Settings, seen: _Observer, first: _Probe) -> list[Check]:
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


def _summarize(probes: Sequence[_Probe]) -> str:
    statuses = Counter(p.status for p in probes if not p.ok)
    return ", ".join(
        f"{'no answer' if s is None else f'HTTP {s}'} x{n}" for s, n in statuses.most_common()
    )


def _access_check(settings: Settings, seen: _Observer, probes: Sequence[_Probe]) -> Check:
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


def _endpoint_check(probe: _Probe) -> Check:
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


def rate_limit_check(settings: Settings, seen: _Observer) -> Check:
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


def estimate_check(settings: Settings, probes: Sequence[_Probe], since: date) -> Check:
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
    seen = _Observer(redact)
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
            probes = [_probe(client, entities[0], tenant, start, end)]
            checks = _auth_checks(settings, seen, probes[0])
            if not seen.token_granted:
                skipped = ["token granted", *later] if len(checks) == 1 else later
                return _clean(Report(checks, skipped, shown), redact)
            # Ask every endpoint once the API answered (a 401 would answer them all alike).
            if (seen.api_answers or probes[0].ok) and probes[0].status != 401:
                probes += [_probe(client, e, tenant, start, end) for e in entities[1:]]
            access = _access_check(settings, seen, probes)
            checks.append(access)
            if access.status == "fail":
                return _clean(Report(checks, later[1:], shown), redact)
            checks += [_endpoint_check(p) for p in probes]
            checks.append(rate_limit_check(settings, seen))
            checks.append(estimate_check(settings, probes, since))
            return _clean(Report(checks, [], shown), redact)
    finally:
        session.close()


def _clean(report: Report, redact: Redactor) -> Report:
    """Belt and braces: no secret value survives in any text shown."""
    for check in report.checks:
        check.detail, check.fix = redact(check.detail), redact(check.fix)
    return report


# --- output ------------------------------------------------------------------------------

_STYLE = {"ok": "bold green", "warn": "bold yellow", "fail": "bold red"}


def render_table(report: Report, console: Console, sources: str) -> None:
    s = report.settings
    console.print(
        f"ServiceTitan tenant [bold]{s['tenant_id']}[/] at {s['api_base_url']} "
        f"(auth {s['auth_url']}); settings from {sources}",
        highlight=False,
    )
    table = Table(title="stkpi doctor")
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("detail")
    table.add_column("fix")
    for c in report.checks:
        table.add_row(f"[{_STYLE[c.status]}]{c.status.upper()}[/]", c.name, c.detail, c.fix)
    console.print(table, highlight=False)
    if report.skipped:
        endpoints = [n for n in report.skipped if n.startswith("endpoint ")]
        names = [n for n in report.skipped if not n.startswith("endpoint ")]
        if endpoints:
            names.insert(names.index("rate limit"), f"the {len(endpoints)} endpoints")
        console.print(f"not checked (an earlier check failed): {', '.join(names)}", highlight=False)
    counts = Counter(c.status for c in report.checks)
    console.print(
        f"overall [{_STYLE[report.status]}]{report.status.upper()}[/]: "
        + ", ".join(f"{counts.get(s, 0)} {s}" for s in _STYLE)
        + f" (exit {report.exit_code})",
        highlight=False,
    )


def _parse_since(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not a date: {text!r} (use YYYY-MM-DD)") from None


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(
        as_json: Annotated[bool, typer.Option("--json", help="print JSON for machines")] = False,
        since: Annotated[
            str, typer.Option(help="backfill start for the estimate, YYYY-MM-DD")
        ] = DEFAULT_SINCE.isoformat(),
        timeout: Annotated[
            float, typer.Option(min=1.0, help="seconds to wait for one answer")
        ] = 30.0,
    ) -> None:
        """Check the ServiceTitan connection, app key, tenant and API scopes; estimate a
        full backfill. Exit 0 all good, 1 warnings, 2 failures."""
        first_day = _parse_since(since)
        env, from_file = doctor_env(os.environ, Path.cwd())
        settings = doctor_settings(env, timeout)
        client_log = logging.getLogger("stkpi.servicetitan")
        level = client_log.level
        client_log.setLevel(logging.ERROR)  # its retries show up as the checks' verdicts
        try:
            report = run_doctor(settings, since=first_day)
        finally:
            client_log.setLevel(level)
        if as_json:
            typer.echo(report.to_json())
        else:
            sources = "the environment"
            if from_file:
                sources += f" and .env ({', '.join(from_file)})"
            console = Console(width=None if sys.stdout.isatty() else 200)
            render_table(report, console, sources)
        raise typer.Exit(report.exit_code)
