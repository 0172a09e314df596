"""Compare our KPI cells with ServiceTitan's, record by record, and name each difference.

Pure logic (no BigQuery, no HTTP): the inputs are our cells (``kpi_weekly``), our records
(``sql/marts/explain/reconcile_records.sql``) and ServiceTitan's records (its row-level
reports, already mapped to our BU names and weeks). A cell is

- ``match``: the values agree and no record differs;
- ``explained``: every differing record is accounted for by a named rule, and those
  records add up to the whole difference;
- ``unexplained``: anything else (a record missing from raw, one ServiceTitan does not
  have, a changed amount, a BU or date we cannot account for).

Rules (ServiceTitan's definitions vs KPIS.md, stkpi_tools.sim.reports): our exclusions
(``test customer``, ``customer already counted this week (leads per job)``, ``job not
Completed``, ``invoice without a job link``, the role of the BU), ``date basis`` (the
record is dated differently, e.g. an invoice by its date vs its job's completion), and
``unmapped BU`` (ours is in the ``unmapped``/``unlinked`` bucket, ServiceTitan's in a BU).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

MATCH, EXPLAINED, UNEXPLAINED = "match", "explained", "unexplained"
BUCKETS = frozenset({"unmapped", "unlinked"})
ZERO = Decimal(0)
TOLERANCE = Decimal("0.005")  # half a cent: money is compared at cents

Cell = tuple[str, str, dt.date]  # (kpi, bu, week_start)


@dataclass(frozen=True)
class OurRecord:
    kpi: str
    record_id: str
    bu: str
    week: dt.date | None
    local_date: dt.date | None
    st_date: dt.date | None  # the date ServiceTitan's definition gives it
    amount: Decimal  # what it adds to our cell (0 when excluded)
    excluded_because: str | None = None


@dataclass(frozen=True)
class StRecord:
    kpi: str
    record_id: str
    bu: str  # our BU name for ServiceTitan's BU
    bu_name: str | None  # ServiceTitan's own BU name
    week: dt.date
    local_date: dt.date
    amount: Decimal


@dataclass(frozen=True)
class DiffRecord:
    """A record on one side only, or on both with a different cell or amount."""

    kpi: str
    record_id: str
    ours_bu: str | None
    ours_date: dt.date | None
    ours_amount: Decimal | None
    st_bu: str | None
    st_date: dt.date | None
    st_amount: Decimal | None
    rule: str | None  # None: unexplained
    note: str

    def as_json(self) -> dict[str, object]:
        return {
            "record_id": self.record_id,
            "ours_bu": self.ours_bu,
            "ours_date": self.ours_date.isoformat() if self.ours_date else None,
            "ours_amount": _num(self.ours_amount),
            "st_bu": self.st_bu,
            "st_date": self.st_date.isoformat() if self.st_date else None,
            "st_amount": _num(self.st_amount),
            "rule": self.rule,
            "note": self.note,
        }


@dataclass
class CellResult:
    kpi: str
    bu: str
    week: dt.date
    ours: Decimal
    st: Decimal
    status: str = MATCH
    records: list[DiffRecord] = field(default_factory=list)
    note: str = ""

    @property
    def difference(self) -> Decimal:
        return self.ours - self.st

    @property
    def rules(self) -> list[str]:
        return sorted({r.rule for r in self.records if r.rule})


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def week_of(d: dt.date) -> dt.date:
    return d - dt.timedelta(days=d.weekday())


def _explain(
    o: OurRecord | None, s: StRecord | None, first: dt.date, last: dt.date
) -> tuple[str | None, str]:
    """(rule or None, note) for a record that differs between the two sides."""
    if o is None:
        return None, "not in our raw tables (missing from raw, or deleted since)"
    if s is None:
        if o.st_date is not None and not first <= o.st_date <= last:
            return "date basis", f"ServiceTitan dates it {o.st_date}, outside the range"
        return None, "not in ServiceTitan's report (extra in raw, or deleted in ServiceTitan)"
    if o.amount == ZERO and o.excluded_because:
        return o.excluded_because, f"ServiceTitan counts it; we exclude it: {o.excluded_because}"
    if o.bu != s.bu:
        if o.bu in BUCKETS:
            return "unmapped BU", f"ours in '{o.bu}', ServiceTitan in {s.bu_name!r}"
        return None, f"BU differs: ours {o.bu}, ServiceTitan {s.bu_name!r}"
    if o.week != s.week:
        if o.st_date == s.local_date:
            return "date basis", f"ours dated {o.local_date}, ServiceTitan {s.local_date}"
        return None, f"dates differ: ours {o.local_date}, ServiceTitan {s.local_date}"
    return None, f"amount differs: ours {o.amount}, ServiceTitan {s.amount}"


def compare(
    ours_values: Mapping[Cell, Decimal | None],
    ours_records: Iterable[OurRecord],
    st_records: Iterable[StRecord],
    weeks: list[dt.date],
    st_totals: Mapping[tuple[str, str], Decimal] | None = None,
) -> list[CellResult]:
    """One result per cell of ``weeks`` that either side has (sorted by kpi, week, bu).

    ``st_totals``: ServiceTitan's aggregate report over the whole range per (kpi, bu); a
    (kpi, bu) whose records do not add up to it is unexplained whatever the records say
    (the mapping or the report is not what we think).
    """
    first, last = min(weeks), max(weeks) + dt.timedelta(days=6)
    in_range = set(weeks)
    ours_by = {(r.kpi, r.record_id): r for r in ours_records}
    st_by = {(r.kpi, r.record_id): r for r in st_records}
    st_cells: dict[Cell, Decimal] = defaultdict(lambda: ZERO)
    for s in st_by.values():
        st_cells[(s.kpi, s.bu, s.week)] += s.amount
    cells: dict[Cell, CellResult] = {}

    def cell(key: Cell) -> CellResult | None:
        if key[2] not in in_range:
            return None
        if key not in cells:
            ours = ours_values.get(key) or ZERO
            cells[key] = CellResult(key[0], key[1], key[2], Decimal(ours), st_cells.get(key, ZERO))
        return cells[key]

    for key in list(ours_values) + list(st_cells):
        cell(key)
    for key in sorted(set(ours_by) | set(st_by)):
        o, s = ours_by.get(key), st_by.get(key)
        # A counted record sits in its cell even at $0 (a $0 invoice is in both reports);
        # one we exclude adds nothing anywhere.
        o_cell = (o.kpi, o.bu, o.week) if o and o.week and not o.excluded_because else None
        s_cell = (s.kpi, s.bu, s.week) if s else None
        if o_cell == s_cell and (o.amount if o else ZERO) == (s.amount if s else ZERO):
            continue
        rule, note = _explain(o, s, first, last)
        diff = DiffRecord(
            key[0], key[1], o.bu if o else None, o.local_date if o else None,
            o.amount if o else None, s.bu if s else None, s.local_date if s else None,
            s.amount if s else None, rule, note,
        )  # fmt: skip
        for target in {c for c in (o_cell, s_cell) if c is not None}:
            result = cell(target)
            if result is not None:
                result.records.append(diff)
    for result in cells.values():
        _judge(result)
    if st_totals is not None:
        _check_totals(cells, st_totals)
    return sorted(cells.values(), key=lambda c: (c.kpi, c.week, c.bu))


def _judge(c: CellResult) -> None:
    key = (c.kpi, c.bu, c.week)
    if abs(c.difference) < TOLERANCE and not c.records:
        c.status = MATCH
        return
    explained_sum = ZERO
    for r in c.records:
        ours_here = (
            r.ours_amount
            if (r.kpi, r.ours_bu) == key[:2] and r.ours_date and week_of(r.ours_date) == c.week
            else None
        )
        st_here = (
            r.st_amount
            if (r.kpi, r.st_bu) == key[:2] and r.st_date and week_of(r.st_date) == c.week
            else None
        )
        explained_sum += (ours_here or ZERO) - (st_here or ZERO)
    adds_up = abs(explained_sum - c.difference) < TOLERANCE
    if all(r.rule for r in c.records) and adds_up:
        c.status = EXPLAINED
    else:
        c.status = UNEXPLAINED
        if not adds_up:
            c.note = f"the differing records add up to {explained_sum}, not {c.difference}"


def _check_totals(
    cells: dict[Cell, CellResult], st_totals: Mapping[tuple[str, str], Decimal]
) -> None:
    sums: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for c in cells.values():
        sums[(c.kpi, c.bu)] += c.st
    for key in set(sums) | set(st_totals):
        total = st_totals.get(key, ZERO)
        if abs(sums[key] - total) >= TOLERANCE:
            for c in cells.values():
                if (c.kpi, c.bu) == key:
                    c.status = UNEXPLAINED
                    c.note = (f"ServiceTitan's aggregate report says {total} over the range, "
                              f"its records {sums[key]}: check the report map")  # fmt: skip
