"""How numbers read on the report: money as dollars, ratios as percents, counts as integers.

Pure functions, unit-tested without BigQuery. ``None`` is a cell with no value (a ratio
whose denominator is 0, or a week the KPI was not computed) and reads ``n/a``.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from stkpi import kpis
from stkpi.config import WEEKDAYS

Kind = Literal["count", "money", "ratio"]
NA = "n/a"
# From the KPI registry (stkpi.kpis): labels as the ServiceTitan UI names the KPIs.
KPI_LABELS: dict[str, str] = {k.name: k.label for k in kpis.KPIS}
SALES_KPIS: tuple[str, ...] = kpis.names(role="Sales")
PRODUCTION_KPIS: tuple[str, ...] = kpis.names(role="Production")


def _num(value: float | Decimal | int | None) -> Decimal | None:
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def format_value(kind: str, value: float | Decimal | int | None) -> str:
    """``$1,234.50`` / ``-$200.00``, ``66.7%``, ``12``; ``n/a`` for no value."""
    v = _num(value)
    if v is None:
        return NA
    if kind == "money":
        cents = v.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return f"-${-cents:,.2f}" if cents < 0 else f"${cents:,.2f}"
    if kind == "ratio":
        return f"{(v * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"
    return f"{v:,.0f}" if v == v.to_integral_value() else f"{v:,.2f}"


def week_change(
    kind: str,
    previous: float | Decimal | int | None,
    current: float | Decimal | int | None,
) -> tuple[str, int]:
    """Week-over-week change text and direction (-1, 0, 1).

    Ratios change in percentage points (``+2.5 pp``); counts and money in percent of last
    week (``+12.0%``), or by the amount when last week was 0 (``+$150.00`` / ``+3``).
    """
    prev, cur = _num(previous), _num(current)
    if prev is None or cur is None:
        return NA, 0
    diff = cur - prev
    direction = (diff > 0) - (diff < 0)
    if kind == "ratio":
        return f"{(diff * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):+} pp", direction
    if prev == 0:
        if diff == 0:
            return "0", 0
        sign = "+" if diff > 0 else "-"
        return sign + format_value(kind, abs(diff)), direction
    return f"{diff / abs(prev) * 100:+.1f}%", direction


def explain_command(kpi: str, bu: str, week: dt.date, tenant: str | None = None) -> str:
    """The ``stkpi explain`` command that lists the records behind one KPI cell (of an
    added tenant: ``--tenant``)."""
    quoted = f'"{bu}"' if any(c in bu for c in " '\"$&;|<>()") else bu
    named = f" --tenant {tenant}" if tenant else ""
    return f"stkpi explain --kpi {kpi} --bu {quoted} --week {week.isoformat()}{named}"


def week_label(week: dt.date) -> str:
    """Column header of a week: its first day, ``Aug 18``."""
    return f"{week:%b} {week.day}"


def lag(now: dt.datetime, ts: dt.datetime | None) -> str:
    """How old ``ts`` is at ``now``: hours under two days, days beyond."""
    if ts is None:
        return "n/a"
    hours = (now - ts).total_seconds() / 3600
    return f"{hours:.1f} h" if abs(hours) < 48 else f"{hours / 24:.1f} d"


def timestamp(ts: Any) -> str:
    """A moment in UTC to the minute; text stays as it is, None is empty."""
    if ts is None:
        return ""
    if isinstance(ts, dt.datetime):
        return ts.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(ts)


def duration(seconds: float | None) -> str:
    """A run's length in the unit that reads best: seconds, minutes or hours."""
    if seconds is None:
        return "n/a"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def week_days(weeks_start: str) -> str:
    """The span of the tenant's weeks for the page header: ``Monday..Sunday``."""
    first = WEEKDAYS.index(weeks_start)
    return f"{WEEKDAYS[first].title()}..{WEEKDAYS[(first + 6) % 7].title()}"
