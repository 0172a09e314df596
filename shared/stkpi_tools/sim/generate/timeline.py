"""What every generator step shares: the timeline, the random draws and the table builder.

Kept apart from the steps so each business area's module holds only what it decides; a
change here changes every entity's data, a change in a step only its own entities'.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from stkpi.registry import get_entity
from stkpi_tools.sim.clock import DAY, NEVER, to_epoch
from stkpi_tools.sim.config import TIMELINE_START, SimConfig
from stkpi_tools.sim.tables import Table

JOB_NUMBER_BASE = 100_000  # job numbers differ from ids so a client mixing them up is caught


def versions(*columns: np.ndarray) -> np.ndarray:
    """Stack event-time columns (NEVER = does not happen) into sorted per-row versions."""
    stacked = np.stack([np.asarray(c, dtype=np.int64) for c in columns], axis=1)
    stacked.sort(axis=1)
    return stacked


def maybe(rng: np.random.Generator, n: int, p: float, when: np.ndarray) -> np.ndarray:
    """``when`` for a fraction ``p`` of rows, NEVER elsewhere."""
    return np.where(rng.random(n) < p, when, NEVER).astype(np.int64)


def days(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    """Uniform durations between ``lo`` and ``hi`` days, in seconds."""
    return (rng.uniform(lo, hi, n) * DAY).astype(np.int64)


def cents(rng: np.random.Generator, n: int, mean_log: float, sigma: float) -> np.ndarray:
    """Lognormal dollar amounts in integer cents; half of them whole dollars."""
    amounts = np.round(np.exp(rng.normal(mean_log, sigma, n)) * 100).astype(np.int64)
    whole = rng.random(n) < 0.5
    amounts[whole] = (amounts[whole] // 100) * 100
    return np.maximum(amounts, 100)


def by_time(when: np.ndarray, *columns: np.ndarray) -> list[np.ndarray]:
    """``when`` and ``columns`` in ``when`` order (stable): tables are sorted by birth."""
    order = np.argsort(when, kind="stable")
    return [when[order], *(c[order] for c in columns)]


def table(
    name: str,
    ids: np.ndarray,
    birth: np.ndarray,
    events: tuple[np.ndarray, ...],
    cols: dict[str, np.ndarray],
    active: np.ndarray | None = None,
) -> Table:
    """Entity ``name``'s table: its versions are its birth and ``events`` (NEVER: none)."""
    return Table(get_entity(name), ids, birth, versions(birth, *events), active, cols)


@dataclass
class Timeline:
    """The instants, counts and per-entity streams every generator shares.

    ``codes``, ``id_bases`` and ``volumes`` are the simulator's entity table
    (``stkpi_tools.sim.entities``), passed in so the generators need not import it.
    """

    config: SimConfig
    codes: Mapping[str, int]
    id_bases: Mapping[str, int]
    volumes: Mapping[str, int]
    t0: int = field(init=False)
    now: int = field(init=False)
    end: int = field(init=False)
    span_ratio: float = field(init=False)

    def __post_init__(self) -> None:
        self.t0 = to_epoch(TIMELINE_START)
        self.now = to_epoch(self.config.now)
        self.end = self.now + self.config.horizon_days * DAY
        self.span_ratio = (self.end - self.t0) / max(1, self.now - self.t0)

    def count(self, name: str, minimum: int = 5) -> int:
        """Records to generate so about ``scale`` x production are visible at ``now``."""
        target = self.volumes[name] * self.config.scale * self.span_ratio
        return max(minimum, round(target))

    def rng(self, name: str) -> np.random.Generator:
        """The entity's own stream: adding an entity never changes another's data."""
        return np.random.default_rng([self.config.seed, self.codes[name]])

    def ids(self, name: str, n: int, rng: np.random.Generator) -> np.ndarray:
        """Increasing ids with gaps (real ids are not dense)."""
        if self.id_bases[name] == 0:
            return np.arange(n, dtype=np.int64)
        steps = rng.integers(1, 4, size=n, dtype=np.int64)
        return self.id_bases[name] + np.cumsum(steps)

    def uniform_births(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` sorted instants spread evenly over the whole timeline."""
        return np.sort(rng.integers(self.t0, self.end, size=n, dtype=np.int64))


# A generator step: builds one or more entities' tables into ``tables``, reading the
# tables of the entities it refers to (built by earlier steps).
Step = Callable[[SimConfig, Timeline, dict[str, Table]], None]
