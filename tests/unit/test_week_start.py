"""A tenant's weeks: the first day of a date's week for each day weeks may start on, the
BigQuery DAYOFWEEK number dim_weeks computes with, and week ranges checked against it."""

from __future__ import annotations

import datetime as dt

import pytest

from stkpi.config import WEEKDAYS
from stkpi.errors import ConfigError
from stkpi.kpi_config import KpiConfig, bigquery_dayofweek, seed_params, week_of
from stkpi.validation.judges.kpis import kpi_weeks

WED = dt.date(2025, 8, 20)  # a Wednesday


@pytest.mark.parametrize(
    ("week_start", "first_day"),
    [
        ("monday", dt.date(2025, 8, 18)),
        ("tuesday", dt.date(2025, 8, 19)),
        ("wednesday", WED),  # a day that starts its own week is its week's first day
        ("thursday", dt.date(2025, 8, 14)),
        ("saturday", dt.date(2025, 8, 16)),
        ("sunday", dt.date(2025, 8, 17)),
    ],
)
def test_week_of(week_start: str, first_day: dt.date) -> None:
    assert week_of(WED, week_start) == first_day


def test_week_of_every_day_of_a_week_is_its_first_day() -> None:
    for week_start in WEEKDAYS:
        first = week_of(WED, week_start)
        assert first.strftime("%A").lower() == week_start
        days = [first + dt.timedelta(days=k) for k in range(7)]
        assert {week_of(d, week_start) for d in days} == {first}
        assert week_of(first + dt.timedelta(days=7), week_start) == first + dt.timedelta(days=7)


def test_bigquery_dayofweek_counts_from_sunday() -> None:
    # BigQuery: EXTRACT(DAYOFWEEK) is 1 on Sunday .. 7 on Saturday.
    assert bigquery_dayofweek("sunday") == 1
    assert bigquery_dayofweek("monday") == 2
    assert bigquery_dayofweek("saturday") == 7


def test_the_seed_carries_the_week_start() -> None:
    params = seed_params(KpiConfig(week_start="sunday"))
    assert (params["week_start_day"], params["week_start_dow"]) == ('"sunday"', "1")
    assert seed_params(KpiConfig())["week_start_dow"] == "2"  # the default: Monday


def test_week_range_bounds_must_start_weeks() -> None:
    KpiConfig(week_start="sunday", week_from=dt.date(2025, 8, 17))
    with pytest.raises(ConfigError, match=r"Sundays .* 2025-08-18 is a Monday"):
        KpiConfig(week_start="sunday", week_from=dt.date(2025, 8, 18))
    with pytest.raises(ConfigError, match="weeks start on one of"):
        KpiConfig(week_start="MONDAY")


def test_validation_checks_the_tenant_weeks() -> None:
    # Wed 2025-08-20: the complete Sunday weeks before it are those of 08-10 and 08-03.
    assert kpi_weeks(WED, 2, "sunday") == [dt.date(2025, 8, 3), dt.date(2025, 8, 10)]
    assert kpi_weeks(WED, 2) == [dt.date(2025, 8, 4), dt.date(2025, 8, 11)]  # Mondays
