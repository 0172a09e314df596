"""The KPI registry: every KPI declared once, as data.

A KPI is its mart (``sql/marts/kpi_<name>.sql``, one row per week and BU of its role with
``value``, ``numerator`` and ``denominator``) plus one row here. Everything else that names
KPIs reads this table: the long and wide tables (``kpi_weekly``, ``kpi_weekly_bu``,
``kpi_weekly_region``, rendered by :mod:`stkpi.marts`), the report's labels and sections,
the Looker Studio column descriptions, and the validations' ranges and roles. Before it, a
KPI was spelled out in ten places that had to agree (issue #17).

Order matters: Sales KPIs first, then Production, in the order the ServiceTitan UI and
the report show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["count", "money", "ratio"]
Role = Literal["Sales", "Production"]


@dataclass(frozen=True)
class Kpi:
    """One KPI. ``description`` says what a number means to an analyst (the Looker column
    description, completed by its kind's unit); ``valid_range`` bounds a plausible value
    (fractions for ratios, ``None`` = unbounded on that side; no range = not judged);
    ``min_denominator`` is the base under which a ratio's BU-week is too small to judge."""

    name: str
    label: str
    kind: Kind
    role: Role
    date_basis: str
    description: str
    valid_range: tuple[float | None, float | None] | None = None
    min_denominator: float | None = None

    @property
    def mart(self) -> str:
        return f"kpi_{self.name}"


KPIS: tuple[Kpi, ...] = (
    Kpi(
        "leads", "Leads", "count", "Sales", "job createdOn",
        "Leads (Sales BUs): distinct non-test customers with a job whose job type contains "
        "'estimate', by job createdOn.",
        valid_range=(0.0, None),
    ),
    Kpi(
        "estimates", "Estimates", "count", "Sales", "estimate createdOn",
        "Estimates (Sales BUs): estimates created in the week, any status.",
        valid_range=(0.0, None),
    ),
    Kpi(
        "total_booked", "Total Booked", "money", "Sales", "estimate soldOn",
        "Total Booked (Sales BUs): subtotal of estimates Sold, by soldOn.",
        valid_range=(0.0, None),
    ),
    Kpi(
        "success_rate", "Success Rate", "ratio", "Sales", "job completedOn",
        "Success Rate / close rate (Sales BUs): completed estimate-type jobs with a Sold "
        "estimate / completed estimate-type jobs, by job completedOn.",
        valid_range=(0.0, 1.0),
        min_denominator=5.0,  # opportunities
    ),
    Kpi(
        "estimates_scheduled", "Estimates Scheduled", "count", "Sales", "appointment start",
        "Estimates Scheduled (Sales BUs): non-canceled appointments of estimate-type jobs "
        "starting in the week.",
        valid_range=(0.0, None),
    ),
    Kpi(
        "produced", "$ Produced", "money", "Production", "job completedOn",
        "$ Produced (Production BUs): subtotal of every invoice of the jobs completed in the "
        "week.",
    ),
    Kpi(
        "gpm", "GPM %", "ratio", "Production", "job completedOn",
        "GPM % (Production BUs): (produced - labor - materials) / produced over the jobs "
        "completed in the week.",
        valid_range=(-0.5, 0.9),
        min_denominator=5000.0,  # dollars produced
    ),
    Kpi(
        "future_bookings", "Future Bookings", "money", "Production", "as of the week's Sunday",
        "Future Bookings (Production BUs): as of the week's Sunday, sold estimates on open "
        "jobs with an appointment after that day.",
        valid_range=(0.0, None),
    ),
    Kpi(
        "collected", "$ Collected", "money", "Production", "payment paidOn",
        "$ Collected (Production BUs): payment amounts applied in the week (paidOn), by the "
        "BU of the invoice paid.",
    ),
    Kpi(
        "warranty_pct", "Warranty % of Production", "ratio", "Production", "job completedOn",
        "Warranty % of Production (Production BUs): warranty jobs / jobs completed in the "
        "week.",
        valid_range=(0.0, 1.0),
        min_denominator=5.0,  # completed jobs
    ),
    Kpi(
        "outstanding_ar", "Outstanding A/R", "money", "Production", "as of the week's Sunday",
        "Outstanding A/R (Production BUs): as of the week's Sunday, open invoice balances "
        "(total - payments by then, floored at 0 per invoice).",
        valid_range=(0.0, None),
    ),
)  # fmt: skip

BY_NAME: dict[str, Kpi] = {k.name: k for k in KPIS}
NAMES: tuple[str, ...] = tuple(BY_NAME)


def names(role: Role | None = None, kind: Kind | None = None) -> tuple[str, ...]:
    """KPI names in registry order, of one role and/or kind."""
    return tuple(
        k.name
        for k in KPIS
        if (role is None or k.role == role) and (kind is None or k.kind == kind)
    )


def kind_of(name: str) -> Kind:
    """A KPI's kind; an unknown name (a row of an older table) reads as money."""
    kpi = BY_NAME.get(name)
    return kpi.kind if kpi else "money"
