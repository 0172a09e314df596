"""This machine's Reporting API calls, for an operator who may only read the landing bucket.

The daily rebuild records each report call in the landing bucket (``LandingCallLog``), and
every process honours it. The operator's ``stkpi reconcile`` may not write there, so its
own calls were known only to its own process: run twice within a minute, the second run
called a report the first had just called, and ServiceTitan answered 429. The call times
are kept here instead, in a file per report under the operator's cache directory, one
directory per tenant and API address, and a call is claimed under a file lock. Report
results stay in memory: tenant data is not written to the operator's disk.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from stkpi import logs
from stkpi.reconcile.reports_api import MemoryCallLog

log = logs.get(__name__)


def cache_dir() -> Path:
    """``STKPI_CACHE_DIR``, else ``$XDG_CACHE_HOME/stkpi``, else ``~/.cache/stkpi``."""
    if os.environ.get("STKPI_CACHE_DIR"):
        return Path(os.environ["STKPI_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stkpi"


class FileCallLog:
    """Report call times in ``directory/<report id>.json``, shared by this machine's runs."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # The results, and this run's own calls once the directory cannot be written (a
        # read-only home): the run still keeps the limit itself, as before the file log.
        self._memory = MemoryCallLog()
        self._on_disk = True

    @classmethod
    def for_tenant(cls, tenant_id: str, api_base_url: str) -> FileCallLog:
        where = hashlib.sha256(api_base_url.encode()).hexdigest()[:12]
        return cls(cache_dir() / "report-calls" / f"{tenant_id}-{where}")

    def _path(self, report_id: int) -> Path:
        return self.directory / f"{report_id}.json"

    def last_call(self, report_id: int) -> tuple[float | None, int]:
        if not self._on_disk:
            return self._memory.last_call(report_id)
        try:
            doc = json.loads(self._path(report_id).read_text())
            return float(doc["called_at"]), int(doc["generation"])
        except OSError:  # none yet, or a directory that cannot be read (see claim_call)
            return None, 0
        except (ValueError, KeyError, TypeError):
            return None, -1  # damaged (written outside this class): the next claim rewrites it

    def claim_call(self, report_id: int, at: float, generation: int) -> bool:
        if self._on_disk:
            try:
                return self._claim_on_disk(report_id, at, generation)
            except OSError as exc:
                log.warning(
                    "report calls kept in this run only: %s cannot be written (%s); set "
                    "STKPI_CACHE_DIR to a writable directory",
                    self.directory,
                    exc,
                )
                self._on_disk = False
                generation = 0  # the memory log starts afresh
        return self._memory.claim_call(report_id, at, generation)

    def _claim_on_disk(self, report_id: int, at: float, generation: int) -> bool:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.last_call(report_id)[1] != generation:
                return False  # another run on this machine claimed it first
            tmp = self._path(report_id).with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"called_at": at, "generation": max(generation, 0) + 1}))
            os.replace(tmp, self._path(report_id))
            return True

    def cached(self, key: str) -> dict[str, Any] | None:
        return self._memory.cached(key)

    def store(self, key: str, doc: dict[str, Any]) -> None:
        self._memory.store(key, doc)
