"""What the client's session saw during the doctor's requests, and one probe per endpoint.

The checks judge from evidence the client does not return (the token endpoint's status
and error code, every API status, rate-limit headers): a response hook on the session
collects it, without keeping a body or a token.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from stkpi.registry import Entity
from stkpi.servicetitan import FetchError, ServiceTitanClient
from stkpi.servicetitan.errors import Redactor


class Observer:
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


@dataclass
class Probe:
    """One endpoint's answer: its record count, or the error it gave."""

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


def probe(
    client: ServiceTitanClient, entity: Entity, tenant: str, start: datetime, end: datetime
) -> Probe:
    """Ask ``entity``'s endpoint for its count over ``[start, end)``, keeping the error. A
    list the spec gives as a bare array carries no count: it is counted by reading it
    (a request per page of ``ST_PAGE_SIZE``; the inventory-bills list is a few pages)."""
    found = Probe(entity, entity.path(tenant))
    try:
        if entity.list_shape == "array":
            found.count = sum(len(p.records) for p in client.iter_pages(entity, start, end))
        else:
            found.count = client.window_count(entity, start, end)
    except FetchError as exc:
        found.error = exc
    return found
