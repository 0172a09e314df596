"""What every renderer shares: the view of the tenant, money, names and statuses.

Kept apart from the renderers so a name or a number renders the same way in every record
that shows it (a customer's name on its locations and invoices, a job's number on its
appointments).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from stkpi_tools.sim import catalog as cat
from stkpi_tools.sim.clock import NEVER
from stkpi_tools.sim.generate.timeline import JOB_NUMBER_BASE
from stkpi_tools.sim.tables import Table


def money(cents: int | np.integer) -> float:
    """Cents as a 2-dp JSON number (1234.5, 1234.56), as ServiceTitan's modules other than
    accounting send money: sums stay exact when read as decimals."""
    return round(int(cents) / 100, 2)


def money_text(cents: int | np.integer) -> str:
    """Cents as the decimal string ServiceTitan's accounting module sends ("1234.50"),
    written from the integer, never through a float."""
    value = int(cents)
    sign = "-" if value < 0 else ""
    return f"{sign}{abs(value) // 100}.{abs(value) % 100:02d}"


@dataclass(frozen=True)
class View:
    """What a renderer sees: all tables, the clock, the seed, and the entities' codes and
    first ids (``stkpi_tools.sim.entities``)."""

    tables: dict[str, Table]
    now: int
    seed: int
    codes: Mapping[str, int]
    id_bases: Mapping[str, int]
    bu_names: tuple[str, ...] = ()  # SimConfig.bu_names: empty = the catalog's

    def bu_name(self, index: int | np.integer) -> str:
        """The name of business unit ``index`` (catalog order)."""
        return self.bu_names[index] if self.bu_names else cat.BUSINESS_UNITS[index][0]

    def rng(self, name: str, record_id: int) -> random.Random:
        """The record's own decoration stream: the same on every call and page."""
        return random.Random((self.seed * 1_000 + self.codes[name]) * 10**12 + int(record_id))

    def id_of(self, name: str, index: int | np.integer) -> int | None:
        return None if index < 0 else int(self.tables[name].ids[index])

    def active(self, name: str, index: int) -> bool:
        """Whether record ``index`` is active (always, for an entity without the flag)."""
        flags = self.tables[name].active
        return True if flags is None else bool(flags[index])

    def happened(self, when: int | np.integer) -> bool:
        return int(when) != NEVER and int(when) <= self.now

    def status(self, t: Table, i: int, stages: tuple[tuple[str, str], ...], otherwise: str) -> str:
        """Record ``i``'s status: the name of the first of ``stages`` (its time column, its
        name; latest stage first) that has happened, else ``otherwise``."""
        return next((name for col, name in stages if self.happened(t.cols[col][i])), otherwise)


Renderer = Callable[[View, int, int], dict[str, Any]]


def person(r: random.Random) -> str:
    return f"{r.choice(cat.FIRST_NAMES)} {r.choice(cat.LAST_NAMES)}"


def job_number(index: int | np.integer) -> str:
    return str(JOB_NUMBER_BASE + int(index))


def customer_name(v: View, i: int) -> str:
    t = v.tables["customers"]
    r = v.rng("customers", t.ids[i])
    if t.cols["test"][i]:
        return r.choice(("Test ", "TEST - ", "test ")) + r.choice(cat.LAST_NAMES)
    if t.cols["commercial"][i]:
        return f"{r.choice(cat.COMPANY_WORDS)} {r.choice(cat.COMPANY_KINDS)}"
    return person(r)


def invoice_total(v: View, inv: int) -> int:
    t = v.tables["invoices"]
    return int(t.cols["sub"][inv] + t.cols["tax"][inv])
