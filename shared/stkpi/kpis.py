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
    ``min_denominator`` is the base under which a ratio's BU-week is too small to judge;
    ``late_costs``: it subtracts costs recorded days after the work (payroll items are
    created when the pay period is processed), so a week that has not settled yet reads
    too high, never too low."""

    name: str
    label: str
    kind: Kind
    role: Role
    date_basis: str
    description: str
    valid_range: tuple[float | None, float | None] | None = None
    min_denominator: float | None = None
    late_costs: bool = False

    @property
    def mart(self) -> str:
        return f"kpi_{self.name}"

    @property
    def is_balance(self) -> bool:
        """A level as of a day (A/R, future bookings), not a flow over the week: it can
        sit still for weeks while nothing happens."""
        return self.date_basis.startswith("as of")


_UNBOUNDED_ABOVE = (0.0, None)  # counts and most money: never negative


def _kpi(
    name: str,
    label: str,
    kind: Kind,
    role: Role,
    date_basis: str,
    what: str,
    valid_range: tuple[float | None, float | None] | None = _UNBOUNDED_ABOVE,
    min_denominator: float | None = None,
    called: str | None = None,
    late_costs: bool = False,
) -> Kpi:
    """A KPI whose description names it (``called``, else its label) and its role's BUs
    before ``what`` it counts; ranges default to "not negative" (ratios give theirs)."""
    description = f"{called or label} ({role} BUs): {what}"
    return Kpi(
        name, label, kind, role, date_basis, description, valid_range, min_denominator, late_costs
    )


KPIS: tuple[Kpi, ...] = (
    _kpi("leads", "Leads", "count", "Sales", "job createdOn",
         "distinct non-test customers with a job whose job type contains 'estimate', by job "
         "createdOn."),
    _kpi("estimates", "Estimates", "count", "Sales", "estimate createdOn",
         "estimates created in the week, any status."),
    _kpi("total_booked", "Total Booked", "money", "Sales", "estimate soldOn",
         "subtotal of estimates Sold, by soldOn."),
    _kpi("success_rate", "Success Rate", "ratio", "Sales", "job completedOn",
         "completed estimate-type jobs with a Sold estimate / completed estimate-type jobs, by "
         "job completedOn.", (0.0, 1.0), 5.0,  # min_denominator: opportunities
         called="Success Rate / close rate"),
    _kpi("estimates_scheduled", "Estimates Scheduled", "count", "Sales", "appointment start",
         "non-canceled appointments of estimate-type jobs starting in the week."),
    _kpi("produced", "$ Produced", "money", "Production", "job completedOn",
         "subtotal of every invoice of the jobs completed in the week.", None),
    _kpi("gpm", "GPM %", "ratio", "Production", "job completedOn",
         "(produced - labor - materials) / produced over the jobs completed in the week; "
         "materials at the documents' totals, tax and shipping included (docs/KPI_RULES.md).",
         (-0.5, 0.9), 5000.0,  # min_denominator: dollars produced
         late_costs=True),
    _kpi("future_bookings", "Future Bookings", "money", "Production", "as of the week's Sunday",
         "as of the week's Sunday, sold estimates on open jobs with an appointment after that "
         "day."),
    _kpi("collected", "$ Collected", "money", "Production", "payment date",
         "payment amounts applied in the week (by the payment's date), by the BU of the "
         "invoice paid.", None),
    _kpi("warranty_pct", "Warranty % of Production", "ratio", "Production", "job completedOn",
         "warranty jobs / jobs completed in the week.", (0.0, 1.0), 5.0),  # 5 completed jobs
    _kpi("outstanding_ar", "Outstanding A/R", "money", "Production", "as of the week's Sunday",
         "as of the week's Sunday, open invoice balances (total - payments by then, floored at "
         "0 per invoice)."),
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


def is_balance(name: str) -> bool:
    """Whether a KPI is a balance as of a day (A/R) rather than a flow over the week; an
    unknown name (a row of an older table) reads as a flow, like :func:`kind_of`."""
    kpi = BY_NAME.get(name)
    return kpi.is_balance if kpi else False


def kind_of(name: str) -> Kind:
    """A KPI's kind; an unknown name (a row of an older table) reads as money."""
    kpi = BY_NAME.get(name)
    return kpi.kind if kpi else "money"
