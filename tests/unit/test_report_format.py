"""How the report writes numbers: dollars, percents, counts, week-over-week changes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from stkpi.report.format import explain_command, format_value, week_change, week_label


def test_money_is_dollars_with_cents_and_thousands() -> None:
    assert format_value("money", Decimal("30241.51")) == "$30,241.51"
    assert format_value("money", 1234.5) == "$1,234.50"
    assert format_value("money", Decimal("0")) == "$0.00"


def test_negative_money_puts_the_sign_before_the_dollar() -> None:
    assert format_value("money", Decimal("-200")) == "-$200.00"


def test_ratios_are_percents_rounded_half_up() -> None:
    assert format_value("ratio", Decimal("0.3725")) == "37.3%"
    assert format_value("ratio", 2 / 3) == "66.7%"
    assert format_value("ratio", 1) == "100.0%"


def test_counts_are_integers_with_thousands() -> None:
    assert format_value("count", Decimal("1234")) == "1,234"
    assert format_value("count", 3) == "3"


def test_missing_values_read_na() -> None:
    for kind in ("count", "money", "ratio"):
        assert format_value(kind, None) == "n/a"


def test_week_change_of_ratios_is_in_percentage_points() -> None:
    assert week_change("ratio", 0.5, 0.525) == ("+2.5 pp", 1)
    assert week_change("ratio", 0.5, 0.4) == ("-10.0 pp", -1)


def test_week_change_of_money_and_counts_is_relative() -> None:
    assert week_change("money", 100, 150) == ("+50.0%", 1)
    assert week_change("count", 4, 3) == ("-25.0%", -1)


def test_week_change_from_zero_is_the_amount() -> None:
    assert week_change("money", 0, 150) == ("+$150.00", 1)
    assert week_change("count", 0, 0) == ("0", 0)


def test_week_change_without_both_weeks_is_na() -> None:
    assert week_change("ratio", None, 0.5) == ("n/a", 0)
    assert week_change("money", 10, None) == ("n/a", 0)


def test_explain_command_quotes_bu_names_with_spaces_or_quotes() -> None:
    monday = dt.date(2025, 8, 18)
    assert (
        explain_command("leads", "Phoenix-Sales", monday)
        == "stkpi explain --kpi leads --bu Phoenix-Sales --week 2025-08-18"
    )
    assert '--bu "Andy\'s Painting-Production"' in explain_command(
        "produced", "Andy's Painting-Production", monday
    )


def test_week_label_is_month_and_day() -> None:
    assert week_label(dt.date(2025, 9, 1)) == "Sep 1"
