"""Runtime fault state: what the next requests should suffer, and the counters tests read.

Randomness (the 5xx rate) comes from a seeded generator so a failing chaos run replays.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import numpy as np

from stkpi_tools.sim.config import FaultConfig
from stkpi_tools.sim.hostile import parse_bad_records


class FaultState:
    """Current fault settings plus one-shot counters, guarded by a lock."""

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._random = random.Random(seed)
        self.config = config
        self.stats: Counter[str] = Counter()
        self.paths: Counter[str] = Counter()
        self._damaged_request: str | None = None
        # A redirect was answered: requests to its other host name are the leaks to count
        # (before one, that name is just how a test client calls the simulator).
        self.redirected = False

    def update(self, **changes: Any) -> FaultConfig:
        if changes.get("bad_records"):
            entries = changes["bad_records"]
            parse_bad_records((entries,) if isinstance(entries, str) else tuple(entries))
        with self._lock:
            self.config = self.config.updated(**changes)
            self._damaged_request = None  # new settings pick their own request
            return self.config

    def reset(self) -> None:
        with self._lock:
            self.config = FaultConfig()
            self._random = random.Random(self._seed)
            self.stats.clear()
            self.paths.clear()
            self._damaged_request = None
            self.redirected = False

    def count(self, key: str, path: str | None = None) -> None:
        with self._lock:
            self.stats[key] += 1
            if path is not None:
                self.paths[path] += 1

    def take_429(self) -> bool:
        """Consume one request of a 429 burst."""
        with self._lock:
            if self.config.burst_429 > 0:
                self.config = self.config.updated(burst_429=self.config.burst_429 - 1)
                return True
            return False

    def roll_5xx(self) -> bool:
        with self._lock:
            return self.config.error_rate > 0 and self._random.random() < self.config.error_rate

    def denies(self, module: str) -> bool:
        """True when the app's scopes exclude API ``module`` (its endpoints answer 403)."""
        with self._lock:
            return module in self.config.denied_modules

    def hidden(self, entity: str, ids: np.ndarray) -> np.ndarray:
        """Mask of the records (by id) a list answer leaves out under ``hide_fraction``:
        a fixed hash of the id, so every page and every count agree on the same share."""
        with self._lock:
            cfg = self.config
        if cfg.hide_fraction <= 0 or (cfg.hide_entity is not None and cfg.hide_entity != entity):
            return np.zeros(ids.shape, dtype=bool)
        spread = (ids.astype(np.uint64) * np.uint64(2_654_435_761)) % np.uint64(10_000)
        return spread < np.uint64(round(cfg.hide_fraction * 10_000))

    def take_body_fault(self, entity: str, page: int, request: str = "") -> str | None:
        """'truncate' / 'malformed' when this data page should be damaged, else None.

        ``request`` identifies the request (path and query) for ``damage_same_request``."""
        with self._lock:
            cfg = self.config
            if cfg.fault_entity is not None and cfg.fault_entity != entity:
                return None
            if cfg.fault_page is not None and cfg.fault_page != page:
                return None
            if cfg.damage_same_request and cfg.truncate_pages + cfg.malformed_pages > 0:
                if self._damaged_request is None:
                    self._damaged_request = request
                elif self._damaged_request != request:
                    return None
            if cfg.truncate_pages > 0:
                self.config = cfg.updated(truncate_pages=cfg.truncate_pages - 1)
                return "truncate"
            if cfg.malformed_pages > 0:
                self.config = cfg.updated(malformed_pages=cfg.malformed_pages - 1)
                return "malformed"
            return None

    def take_edit(self, entity: str, page: int) -> int:
        """Records to edit after serving this page (once per configuration), else 0."""
        with self._lock:
            cfg = self.config
            if cfg.edit_after_page is None or cfg.edit_count <= 0 or cfg.edit_after_page != page:
                return 0
            if cfg.edit_entity is not None and cfg.edit_entity != entity:
                return 0
            self.config = cfg.updated(edit_after_page=None)
            return cfg.edit_count

    def take_page_faults(self, entity: str) -> tuple[str, ...]:
        """The hostile page faults (``short``, ``repeat``, ``early_end``) this list page of
        ``entity`` suffers, each consumed (``stkpi_tools.sim.hostile``)."""
        with self._lock:
            cfg = self.config
            if cfg.hostile_entity is not None and cfg.hostile_entity != entity:
                return ()
            taken: list[str] = []
            changes: dict[str, int] = {}
            for name, fault in (
                ("short_pages", "short"),
                ("repeat_pages", "repeat"),
                ("early_end_pages", "early_end"),
            ):
                if getattr(cfg, name) > 0:
                    changes[name] = getattr(cfg, name) - 1
                    taken.append(fault)
                    self.stats[f"hostile_{fault}"] += 1
            if changes:
                self.config = cfg.updated(**changes)
            return tuple(taken)

    def bad_records(self) -> dict[tuple[str, int], str]:
        """{(entity, id): kind} of the records served damaged (``bad_records``)."""
        with self._lock:
            entries = self.config.bad_records
        return parse_bad_records(entries) if entries else {}

    def take_redirect(self) -> bool:
        """Consume one request of ``redirect_requests``."""
        with self._lock:
            if self.config.redirect_requests > 0:
                self.config = self.config.updated(
                    redirect_requests=self.config.redirect_requests - 1
                )
                self.stats["redirects"] += 1
                self.redirected = True
                return True
            return False

    def take_newline_token(self) -> bool:
        """Consume one of ``newline_tokens``."""
        with self._lock:
            if self.config.newline_tokens > 0:
                self.config = self.config.updated(newline_tokens=self.config.newline_tokens - 1)
                self.stats["newline_tokens"] += 1
                return True
            return False

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"counters": dict(self.stats), "paths": dict(self.paths)}
