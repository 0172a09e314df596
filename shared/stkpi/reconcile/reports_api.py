"""ServiceTitan's Reporting API through the project's one client, within its limit.

ServiceTitan answers the same report at most once a minute per tenant (SERVICETITAN.md);
every data request, any page, is a call. ``ReportFetcher`` never asks for the same report
twice within ``interval`` seconds: before each call it checks the report's last call in a
``CallLog`` and waits out the rest of the minute, and it keeps each result, so asking again
for the same report and parameters within the interval reuses the result instead of
calling (unless it was taken before ``reuse_after``: then it waits and calls again). ``LandingCallLog`` keeps both in the landing bucket, shared by every process
(the daily rebuild and the CLI); a call is claimed with a generation precondition, so of
two processes racing for the same report only one calls. A principal that may only read
the bucket (the operator) still honours the calls and results others recorded, and keeps
its own calls where its other runs see them (``stkpi_tools.report_calls``).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from google.api_core.exceptions import Forbidden

from stkpi import logs
from stkpi.errors import StkpiError
from stkpi.landing import Landing
from stkpi.servicetitan.client import ServiceTitanClient

log = logs.get(__name__)

INTERVAL_SECONDS = 61.0  # ServiceTitan's minute, plus a second for clocks that disagree
PAGE_SIZE = 25_000


class ReportingApi:
    """The Reporting API's operations (module ``reporting``, SERVICETITAN.md), as data: the
    spec refresh (``scripts/refresh_st_specs.py``) keeps these and the contract test holds
    their paths and parameters to ServiceTitan's spec."""

    MODULE = "reporting"
    OPERATIONS: dict[str, tuple[str, str]] = {
        "categories": ("get", "/tenant/{tenant}/report-categories"),
        "reports": ("get", "/tenant/{tenant}/report-category/{report_category}/reports"),
        "describe": ("get", "/tenant/{tenant}/report-category/{report_category}/reports/{reportId}"),
        "data": ("post", "/tenant/{tenant}/report-category/{report_category}/reports/{reportId}/data"),
    }  # fmt: skip

    def __init__(self, client: ServiceTitanClient, tenant_id: str) -> None:
        self.client = client
        self.tenant_id = tenant_id

    def path(self, operation: str, **values: Any) -> str:
        """The request path of ``operation`` for this tenant (below the API base)."""
        template = self.OPERATIONS[operation][1]
        filled = template.format(tenant=self.tenant_id, **values)
        return f"/{self.MODULE}/v2{filled}"

    def categories(self) -> list[dict[str, Any]]:
        return list(self.client.get_json(self.path("categories"), {},
                                         "reporting report-categories").get("data") or [])  # fmt: skip

    def reports(self, category: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            doc = self.client.get_json(
                self.path("reports", report_category=category),
                {"page": page, "pageSize": 500},
                f"reporting reports of {category}",
            )
            out += doc.get("data") or []
            if not doc.get("hasMore") or not doc.get("data"):  # an empty page ends it too
                return out
            page += 1

    def describe(self, category: str, report_id: int) -> dict[str, Any]:
        return self.client.get_json(
            self.path("describe", report_category=category, reportId=report_id), {},
            f"reporting report {report_id}",
        )  # fmt: skip

    def data_page(
        self, category: str, report_id: int, parameters: dict[str, Any], page: int, size: int
    ) -> dict[str, Any]:
        body = {"parameters": [{"name": k, "value": v} for k, v in parameters.items()]}
        return self.client.post_json(
            self.path("data", report_category=category, reportId=report_id),
            {"page": page, "pageSize": size},
            body,
            f"reporting report {report_id} data page {page}",
        )


class CallLog(Protocol):
    """When each report was last called, and results kept for reuse."""

    def last_call(self, report_id: int) -> tuple[float | None, int]: ...
    def claim_call(self, report_id: int, at: float, generation: int) -> bool: ...
    def cached(self, key: str) -> dict[str, Any] | None: ...
    def store(self, key: str, doc: dict[str, Any]) -> None: ...


class MemoryCallLog:
    """One process's calls (tests, and the CLI's own calls on top of the shared log)."""

    def __init__(self) -> None:
        self._calls: dict[int, tuple[float, int]] = {}
        self._results: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def last_call(self, report_id: int) -> tuple[float | None, int]:
        at, gen = self._calls.get(report_id, (None, 0))
        return at, gen

    def claim_call(self, report_id: int, at: float, generation: int) -> bool:
        with self._lock:
            if self._calls.get(report_id, (None, 0))[1] != generation:
                return False
            self._calls[report_id] = (at, generation + 1)
            return True

    def cached(self, key: str) -> dict[str, Any] | None:
        return self._results.get(key)

    def store(self, key: str, doc: dict[str, Any]) -> None:
        self._results[key] = doc


class LandingCallLog:
    """Calls and results under ``reconcile/<tenant>/`` in the landing bucket."""

    def __init__(self, landing: Landing, tenant_id: str, local: CallLog | None = None) -> None:
        self.landing = landing
        self.prefix = f"reconcile/{tenant_id}"
        # Where the calls are kept when the landing bucket may not be written: this
        # process only by default; the CLI passes a log this machine's runs share.
        self.local: CallLog = local or MemoryCallLog()
        self.read_only = False

    def last_call(self, report_id: int) -> tuple[float | None, int]:
        doc, gen = self.landing.read_json_versioned(f"{self.prefix}/calls/{report_id}.json")
        shared = float(doc["called_at"]) if doc else None
        mine = self.local.last_call(report_id)[0]
        latest = max((t for t in (shared, mine) if t is not None), default=None)
        return latest, gen

    def claim_call(self, report_id: int, at: float, generation: int) -> bool:
        local_gen = self.local.last_call(report_id)[1]
        claimed_here = self.local.claim_call(report_id, at, local_gen)
        if self.read_only:
            return claimed_here
        try:
            return (
                self.landing.write_json_if(
                    f"{self.prefix}/calls/{report_id}.json",
                    {"called_at": at},
                    generation=generation,
                )
                > 0
            )
        except Forbidden:  # the operator may read the bucket, not write it
            self.read_only = True
            log.info("report calls recorded outside the landing bucket (it is read-only)")
            return claimed_here

    def cached(self, key: str) -> dict[str, Any] | None:
        return self.local.cached(key) or self.landing.read_json(f"{self.prefix}/results/{key}.json")

    def store(self, key: str, doc: dict[str, Any]) -> None:
        self.local.store(key, doc)
        if self.read_only:
            return
        try:
            self.landing.write_json(f"{self.prefix}/results/{key}.json", doc)
        except Forbidden:
            self.read_only = True


class ReportBusyError(StkpiError):
    """The report was called within the minute by someone else and may not be called yet."""


@dataclass(frozen=True)
class ReportResult:
    fields: list[str]
    rows: list[list[Any]]
    fetched_at: float
    reused: bool


class ReportFetcher:
    """Fetches report data, never calling the same report twice within ``interval``."""

    def __init__(
        self,
        api: ReportingApi,
        calls: CallLog,
        *,
        interval: float = INTERVAL_SECONDS,
        page_size: int = PAGE_SIZE,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        reuse_after: float | None = None,
        max_wait: float | None = None,
    ) -> None:
        self.api, self.calls = api, calls
        # How long a report's first page may wait for a call made by someone else; beyond
        # it ``ReportBusyError`` (None: wait as long as it takes). Later pages of a report
        # being fetched always wait their minute.
        self.max_wait = max_wait
        # A result fetched before this instant is not reused, however young: the daily
        # rebuild sets it to its own start, so it never compares its fresh data with a
        # report taken before that data was fetched (the previous run's, a minute ago).
        self.reuse_after = reuse_after
        self.interval, self.page_size = interval, page_size
        self.now, self.sleep = now, sleep
        self.calls_made = 0
        self.reused = 0
        self.waited_seconds = 0.0

    def fetch(self, category: str, report_id: int, parameters: dict[str, Any]) -> ReportResult:
        key = (
            f"{report_id}-"
            + hashlib.sha256(
                json.dumps(parameters, sort_keys=True, default=str).encode()
            ).hexdigest()[:16]
        )
        doc = self.calls.cached(key)
        fresh = doc is not None and self.now() - float(doc["fetched_at"]) < self.interval
        if fresh and (self.reuse_after is None or float(doc["fetched_at"]) >= self.reuse_after):
            assert doc is not None
            self.reused += 1
            return ReportResult(doc["fields"], doc["rows"], float(doc["fetched_at"]), True)
        fields: list[str] = []
        rows: list[list[Any]] = []
        page = 1
        fetched_at = self.now()
        while True:
            self._wait_turn(report_id, self.max_wait if page == 1 else None)
            body = self.api.data_page(category, report_id, parameters, page, self.page_size)
            self.calls_made += 1
            fields = [str(f.get("name")) for f in body.get("fields") or []]
            rows += body.get("data") or []
            if not body.get("hasMore"):
                break
            page += 1
        self.calls.store(key, {"fetched_at": fetched_at, "fields": fields, "rows": rows})
        return ReportResult(fields, rows, fetched_at, False)

    def _wait_turn(self, report_id: int, max_wait: float | None) -> None:
        """Block until ``report_id`` may be called, and claim the call."""
        while True:
            last, generation = self.calls.last_call(report_id)
            now = self.now()
            if last is not None and now - last < self.interval:
                pause = self.interval - (now - last)
                if max_wait is not None and pause > max_wait:
                    raise ReportBusyError(
                        f"report {report_id} was called {now - last:.0f}s ago; ServiceTitan "
                        f"allows it once a minute (next call in {pause:.0f}s)"
                    )
                self.waited_seconds += pause
                self.sleep(pause)
                continue
            if self.calls.claim_call(report_id, now, generation):
                return
