"""Which weeks the report shows: the last N Mondays up to the current week (report time
zone), and which two complete weeks its change columns compare."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from stkpi.report.data import ReportData, current_week_start
from stkpi.report.format import week_label


@dataclass(frozen=True)
class Weeks:
    """The weeks the page shows, oldest first, and which of them are compared.

    ``partial`` is True when the last week is the current one (still running). The change
    columns compare the last two *complete* weeks: a week counted to date against a whole
    week would read as a drop every Monday.
    """

    weeks: list[dt.date]
    partial: bool

    @property
    def this_week(self) -> dt.date | None:
        return self.weeks[-1] if self.partial and self.weeks else None

    @property
    def complete(self) -> list[dt.date]:
        return self.weeks[:-1] if self.partial else self.weeks

    @property
    def last(self) -> dt.date | None:
        return self.complete[-1] if self.complete else None

    @property
    def before(self) -> dt.date | None:
        return self.complete[-2] if len(self.complete) > 1 else None

    def label(self, week: dt.date) -> str:
        base = week_label(week)
        return f"{base} (to date)" if self.partial and week == self.weeks[-1] else base


def week_window(data: ReportData) -> Weeks:
    """The last ``data.weeks`` weeks (their first days: Mondays unless the tenant's weeks
    start on another day) ending at the current week (report time zone).

    Every week of the span is shown, with or without rows, so a missing week reads as a
    gap. When the marts hold nothing in that span (a stalled tenant), the span ends at the
    newest week they do hold instead, and nothing is partial.
    """
    this_monday = current_week_start(data.generated_at, data.report_timezone, data.weeks_start)
    have = sorted(
        {
            r["week_start"]
            for s in (data.kpi_bu, data.kpi_region)
            for r in s.rows
            if r["week_start"] <= this_monday
        }
    )
    if not have:
        return Weeks([], False)
    first = this_monday - dt.timedelta(days=7 * (data.weeks - 1))
    end = this_monday if have[-1] >= first else have[-1]
    weeks = [end - dt.timedelta(days=7 * k) for k in range(data.weeks - 1, -1, -1)]
    return Weeks(weeks, end == this_monday)
