"""Validation judgements, thresholds and output, without BigQuery."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path

import pytest
from rich.console import Console

from stkpi.errors import ConfigError
from stkpi.validation.config import ValidationConfig, config_from_mapping, load_validation_config
from stkpi.validation.judges.completeness import add_months, judge_coverage, judge_volume
from stkpi.validation.judges.freshness import FreshnessHistory, judge_freshness
from stkpi.validation.judges.joins import judge_join
from stkpi.validation.judges.kpis import KpiRow, judge_kpis, kpi_weeks
from stkpi.validation.judges.pipeline import judge_dead_letters
from stkpi.validation.result import GREEN, RED, YELLOW, CheckResult, exit_code, worst
from stkpi.validation.stats import (
    expected_changes,
    poisson_cdf,
    poisson_sf,
    share_cdf,
    usual_silence_hours,
)
from stkpi.validation.store import result_rows
from stkpi_tools.cli.validate import render_table, to_json

CFG = ValidationConfig()
NOW = dt.datetime(2025, 9, 10, 15, tzinfo=dt.UTC)
KPI_TODAY = NOW.date()


def _r(status: str) -> CheckResult:
    return CheckResult("x.y", status, "m")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("statuses", "strict", "code"),
    [
        ([GREEN, GREEN], False, 0),
        ([GREEN, YELLOW], False, 0),
        ([GREEN, YELLOW], True, 1),
        ([YELLOW, RED], False, 2),
        ([RED], True, 2),
        ([], True, 0),
    ],
)
def test_exit_code_is_0_1_2(statuses: list[str], strict: bool, code: int) -> None:
    assert exit_code([_r(s) for s in statuses], strict=strict) == code


def test_volume_far_under_the_same_weekday_median_is_red() -> None:
    day = dt.date(2025, 9, 9)
    weeks = [40, 44, 38, 42, 41, 40, 43, 39]  # the 8 Tuesdays before (volume_weeks)
    history = {day - dt.timedelta(days=7 * k): n for k, n in enumerate(weeks, start=1)}
    # Median 40.5; variance 4.0 under the mean: no extra spread (dispersion 1), x 9/8 for
    # the median's own noise. 10 of 40.5 is about P = 4e-8 for such a count: RED.
    res = judge_volume("invoices", day, {**history, day: 10}, CFG)
    assert res.status == RED
    assert res.numbers["baseline_median"] == 40.5
    assert res.numbers["dispersion"] == 1.125
    assert res.value == pytest.approx(10 / 40.5)
    assert "backfill --entities invoices --start 2025-09-09 --end 2025-09-10" in res.next_step
    ok = judge_volume("invoices", day, {**history, day: 21}, CFG)
    assert ok.status == GREEN  # 21/40.5 >= 0.5: not low at all


def test_volume_of_a_small_tenant_is_noise_not_a_drop() -> None:
    day = dt.date(2025, 11, 29)  # a Sunday
    sundays = {day - dt.timedelta(days=7 * k): n for k, n in enumerate([2, 2, 1, 2] * 2, 1)}
    res = judge_volume("appointments", day, {**sundays, day: 0}, CFG)
    # Median 2 is under the base of 20 a day: 0 instead of 2 is no news.
    assert res.status == GREEN and "too few a day to judge" in res.message


def test_volume_drop_is_judged_by_how_unlikely_it_is() -> None:
    day = dt.date(2025, 9, 9)
    steady = {day - dt.timedelta(days=7 * k): 20 for k in range(1, 9)}  # median 20
    # No spread beyond Poisson (dispersion 1), x 9/8 for the median of 8 weeks: a negative
    # binomial of size 20 / 0.125 = 160, p = 160 / 180 = 0.8889. By hand:
    # P(X <= 1) = p^160 (1 + 160 (1 - p)) = 6.56e-9 x 18.78 = 1.23e-7 -> RED (< 1e-6).
    # P(X <= 4) = 3.6e-5 -> YELLOW (< 1e-4); P(X <= 9) = 0.0072 -> GREEN (ratio 0.45).
    assert judge_volume("jobs", day, {**steady, day: 9}, CFG).status == GREEN
    assert judge_volume("jobs", day, {**steady, day: 4}, CFG).status == YELLOW
    collapsed = judge_volume("jobs", day, {**steady, day: 1}, CFG)
    assert collapsed.status == RED
    assert collapsed.numbers["p_as_low"] == pytest.approx(0.8889**160 * 18.78, rel=1e-2)
    # The same median from weeks that swing (10, 30, 12, 28, ...: dispersion 3.5, a crew's
    # jobs come in clumps) makes 4 an ordinary low day (P = 0.01): GREEN.
    clumpy = [10, 30, 12, 28, 11, 29, 20, 20]
    swings = {day - dt.timedelta(days=7 * k): n for k, n in enumerate(clumpy, start=1)}
    assert judge_volume("jobs", day, {**swings, day: 4}, CFG).status == GREEN


def test_an_empty_month_where_many_are_usual_is_a_gap_whatever_the_spread() -> None:
    m = dt.date
    # Months that swing (dispersion 9.2: estimates come two or three to a sales visit)
    # put an empty month at P = 2e-4 for a negative binomial, above coverage_p; but with
    # a median of 35 before it (>= coverage_gap_base 30), no rows at all is a month that
    # never synced: YELLOW.
    months = [60, 12, 40, 18, 58, 22, 45, 30]
    est = dict(zip([m(2026, k, 1) for k in range(2, 10)], months, strict=True))
    res = judge_coverage("estimates", {**est, m(2026, 10, 1): 0}, m(2026, 11, 1), CFG)
    assert res.numbers["p_as_low"]["2026-10"] > CFG.coverage_p
    assert res.status == YELLOW and "no rows in 2026-10" in res.message
    # Half those counts (median 17.5, under the gap base): an empty month is left to the
    # spread, which finds it ordinary.
    half = {k: n // 2 for k, n in est.items()}
    res = judge_coverage("estimates", {**half, m(2026, 10, 1): 0}, m(2026, 11, 1), CFG)
    assert res.status == GREEN, res.message


def test_share_cdf_by_hand() -> None:
    # 18 records over three months, the third holding none: (2/3)^18 = 6.77e-4; holding
    # at most 1 adds 18 (1/3)(2/3)^17 = 18/2 x (2/3)^18: 6.77e-4 x 10 = 6.77e-3.
    assert share_cdf(0, 18, 1 / 3) == pytest.approx((2 / 3) ** 18)
    assert share_cdf(1, 18, 1 / 3) == pytest.approx(10 * (2 / 3) ** 18)
    # The edges: no records above n; with the whole share, all n records (never <= k < n).
    assert share_cdf(18, 18, 1 / 3) == 1.0 and share_cdf(-1, 18, 1 / 3) == 0.0
    assert share_cdf(0, 5, 0.0) == 1.0 and share_cdf(4, 5, 1.0) == 0.0


def test_poisson_cdf_holds_for_large_means() -> None:
    assert poisson_cdf(10, 100) == pytest.approx(1.1377e-30, rel=1e-3)
    assert poisson_cdf(1000, 1000) == pytest.approx(0.508, abs=1e-3)
    assert poisson_cdf(0, 0) == 1.0 and poisson_cdf(-1, 3) == 0.0


def test_poisson_sf_sums_the_upper_tail() -> None:
    # By hand: P(X >= 3 | mean 1) = 1 - e^-1 (1 + 1 + 1/2) = 0.0803014.
    assert poisson_sf(3, 1) == pytest.approx(1 - math.exp(-1) * 2.5, rel=1e-12)
    # Far in the tail, 1 - cdf reads 0.0: every digit of the cdf's 1.0 is lost. The tail's
    # own sum, e^-5 sum_{i>=60} 5^i / i!, in exact arithmetic (fractions, 80 digits of e^-5).
    with localcontext() as ctx:
        ctx.prec = 80
        exact = Decimal(-5).exp() * sum(
            Decimal(Fraction(5**i, math.factorial(i)).numerator)
            / Decimal(Fraction(5**i, math.factorial(i)).denominator)
            for i in range(60, 400)
        )
    assert poisson_sf(60, 5) > 0
    assert poisson_sf(60, 5) == pytest.approx(float(exact), rel=1e-9)
    # Edges: X >= 0 always; with mean 0, X is 0; at the mean the two ways agree.
    assert poisson_sf(0, 3) == 1.0 and poisson_sf(1, 0) == 0.0
    assert poisson_sf(20, 20) == pytest.approx(1 - poisson_cdf(19, 20), rel=1e-12)


def test_volume_without_history_is_green() -> None:
    res = judge_volume("returns", dt.date(2025, 9, 9), {}, CFG)
    assert res.status == GREEN and res.numbers["baseline_median"] == 0


def test_coverage_reports_month_over_month_and_flags_drops_and_gaps() -> None:
    m = dt.date
    # About 100 jobs a month, then none in July: the other months (with August's 40)
    # spread 6.2 times a Poisson count, x 7/6 for a six-month median of 100: P(0) =
    # 7.2^(-100 / 6.2) ~ 1e-14.
    steady = [95, 105, 100, 98, 100, 110]
    months = dict(zip([m(2025, k, 1) for k in range(1, 7)], steady, strict=True))
    months |= {m(2025, 8, 1): 40, m(2025, 9, 1): 3}
    res = judge_coverage("jobs", months, m(2025, 9, 1), CFG)
    assert res.status == YELLOW
    assert res.numbers["months"] == {
        **{f"2025-0{k}": n for k, n in zip(range(1, 7), steady, strict=True)},
        "2025-07": 0,
        "2025-08": 40,
        "2025-09": 3,
    }
    assert res.numbers["mom_change"]["2025-06"] == pytest.approx(0.1)
    assert "no rows in 2025-07" in res.message
    assert res.numbers["p_as_low"]["2025-07"] < 1e-13
    # The partial current month never counts as a drop.
    steady = {m(2025, 7, 1): 100, m(2025, 8, 1): 90, m(2025, 9, 1): 3}
    assert judge_coverage("jobs", steady, m(2025, 9, 1), CFG).status == GREEN


def test_coverage_judges_a_month_against_the_median_of_the_months_before() -> None:
    m = dt.date
    # The demo tenant's jobs (scale 0.01): Aug 61 then Sep 26. Sep vs the median of the
    # six months before, (40 + 45) / 2 = 42.5: 26 >= 21.25, no drop (it was one vs Aug).
    jobs = dict(
        zip(
            [m(2026, k, 1) for k in range(3, 12)], [38, 40, 34, 51, 45, 61, 26, 29, 45], strict=True
        )
    )
    res = judge_coverage("jobs", jobs, m(2026, 11, 1), CFG)
    assert res.status == GREEN, res.message
    assert res.numbers["baseline_median"]["2026-09"] == 42.5
    # A sparse entity (returns, ~1 a month) has empty months: P(0 | 1) = 0.37.
    returns = dict(
        zip([m(2026, k, 1) for k in range(1, 12)], [1, 3, 1, 1, 1, 0, 0, 0, 0, 0, 1], strict=True)
    )
    assert judge_coverage("returns", returns, m(2026, 11, 1), CFG).status == GREEN
    # A steady 40 a month (40, 42, 38, 41) that falls to 5: 5 < 20.25, half the median
    # 40.5. The five months hold 166 records and the fifth 5 of them, where a fifth (33.2)
    # is usual: Binomial(166, 1/5) P(X <= 5) ~ 1e-10.
    collapse = dict(zip([m(2025, k, 1) for k in range(4, 10)], [40, 42, 38, 41, 5, 9], strict=True))
    res = judge_coverage("jobs", collapse, m(2025, 9, 1), CFG)
    assert res.status == YELLOW
    assert "2025-08: 5 rows, 12% of the median 40.5" in res.message


def test_coverage_allows_the_spread_the_entitys_months_show() -> None:
    m = dt.date
    # The demo tenant's estimates (scale 0.01, two or three to a sales visit): Mar..Aug
    # 42, 28, 35, 35, 52, 59, then Sep 19. Median 38.5; 19 < 19.25 is a drop, and as a
    # Poisson count P(X <= 19 | 38.5) ~ 4e-4. But the entity's other complete months
    # spread far more than Poisson: mean 41.83, variance 136.57, dispersion 3.265, and
    # 3.809 widened by the six-month baseline's own noise (x 7/6). A negative binomial
    # with mean 38.5 and that dispersion: P(X <= 19) = 0.0375, ordinary, GREEN.
    est = dict(
        zip([m(2026, k, 1) for k in range(3, 11)], [42, 28, 35, 35, 52, 59, 19, 30], strict=True)
    )
    res = judge_coverage("estimates", est, m(2026, 10, 1), CFG)
    assert res.status == GREEN, res.message
    assert res.numbers["p_as_low"]["2026-09"] == pytest.approx(0.0375, rel=1e-2)
    # 2 or 1 rows are within it (7.2e-7, 1.2e-7, over coverage_p 1e-7: such a spread
    # leaves no firmer line), but it does not hide an empty month.
    for few in (2, 1):
        assert (
            judge_coverage("estimates", {**est, m(2026, 9, 1): few}, m(2026, 10, 1), CFG).status
            == GREEN
        )
    # An empty month, by hand: a negative binomial's P(0) is dispersion^(-mean /
    # (dispersion - 1)) = 3.809^(-38.5 / 2.809) = e^(-13.71 x 1.337) = 1.1e-8.
    empty = {**est, m(2026, 9, 1): 0}
    res = judge_coverage("estimates", empty, m(2026, 10, 1), CFG)
    assert res.numbers["p_as_low"]["2026-09"] == pytest.approx(3.809 ** (-38.5 / 2.809), rel=1e-2)
    assert res.status == YELLOW and "no rows in 2026-09" in res.message


def test_coverage_counts_the_noise_of_the_baseline() -> None:
    m = dt.date
    # The demo tenant's invoices at 13:00 UTC on 2026-12-01 (scale 0.01): May..Oct 42, 22,
    # 32, 39, 33, 33, then Nov 14 (9 jobs completed in Nov, about 17 in other months, and
    # 1.78 invoices to a job). 14 < 16.5, half the median 33: a drop. The other months:
    # mean 33.5, variance 47.5, dispersion 1.418, x 7/6 for a median of six months =
    # 1.654. P(X <= 14) = 0.0019, P(X <= 10) = 1.0e-4, P(X <= 6) = 1.5e-6: low, but a
    # run judges about 120 months a day, and coverage_p (1e-7) keeps a healthy run GREEN.
    # P(X <= 4) = 8.5e-8: YELLOW.
    months = [42, 22, 32, 39, 33, 33]
    before = dict(zip([m(2026, k, 1) for k in range(5, 11)], months, strict=True))
    for nov, status in ((14, GREEN), (10, GREEN), (6, GREEN), (4, YELLOW)):
        res = judge_coverage("invoices", {**before, m(2026, 11, 1): nov}, m(2026, 12, 1), CFG)
        assert res.status == status, (nov, res.message)
    assert "2026-11: 4 rows" in res.message


def test_coverage_does_not_judge_a_month_against_one_month() -> None:
    m = dt.date
    # The demo tenant's purchase orders (scale 0.01), the 13 months of the window from
    # 2025-11 (2026-11 partial). 2025-12 has only 2025-11 before it: 1 after 9. As a
    # Poisson count P(X <= 1 | 9) = 0.0012, but the 9 is one month's count, as noisy as
    # the 1: not a baseline. Not judged: GREEN.
    counts = [9, 1, 5, 7, 6, 8, 3, 10, 9, 6, 7, 4, 7]
    months = dict(zip([add_months(m(2025, 11, 1), k) for k in range(13)], counts, strict=True))
    res = judge_coverage("purchase_orders", months, m(2026, 11, 1), CFG)
    assert res.status == GREEN, res.message
    assert "2025-12" not in res.numbers["baseline_median"]
    assert res.numbers["baseline_median"]["2026-01"] == 5.0  # median of 9 and 1


def test_an_empty_month_is_judged_by_the_entitys_size() -> None:
    m = dt.date
    # 9, 9 then 0 purchase orders: the other months (7 a month, variance under the mean:
    # dispersion 1) widened x 3/2 for a two-month baseline: P(0) = 1.5^(-9 / 0.5) =
    # 6.8e-4. An entity of 7 a month has an empty month by chance about once in 1,500
    # months: GREEN. The same gap where 40 a month are usual: 1.5^(-40 / 0.5) = 8e-15.
    counts = [9, 9, 0, 5, 7, 6, 8, 3, 10, 9, 6, 7, 4, 7]
    months = dict(zip([add_months(m(2025, 10, 1), k) for k in range(14)], counts, strict=True))
    res = judge_coverage("purchase_orders", months, m(2026, 11, 1), CFG)
    assert res.status == GREEN, res.message
    assert res.numbers["p_as_low"]["2025-12"] == pytest.approx(1.5**-18, rel=1e-3)
    jobs = {k: 40 + n - 7 if n else 0 for k, n in months.items()}
    jobs[m(2025, 12, 1)] = 0
    res = judge_coverage("jobs", jobs, m(2026, 11, 1), CFG)
    assert res.status == YELLOW and "no rows in 2025-12" in res.message


def test_coverage_of_an_empty_required_entity_is_red() -> None:
    assert judge_coverage("invoices", {}, dt.date(2025, 9, 1), CFG, required=True).status == RED
    assert judge_coverage("returns", {}, dt.date(2025, 9, 1), CFG).status == GREEN


def test_freshness_over_25_hours_is_red() -> None:
    fresh = NOW - dt.timedelta(hours=3)
    stale = NOW - dt.timedelta(hours=26)
    kw = {"now": NOW, "row_count": 5, "config": CFG}
    assert judge_freshness("jobs", newest_modified=fresh, last_sync=fresh, **kw).status == GREEN
    res = judge_freshness("jobs", newest_modified=stale, last_sync=fresh, **kw)
    assert res.status == RED and res.numbers["data_age_hours"] == 26.0
    res = judge_freshness("jobs", newest_modified=fresh, last_sync=stale, **kw)
    assert res.status == RED and "last sync 26.0 h ago" in res.message
    # Entities that do not change daily are judged by their sync only.
    ok = judge_freshness("returns", newest_modified=stale, last_sync=fresh, **kw)
    assert ok.status == GREEN
    never = judge_freshness(
        "returns", now=NOW, row_count=0, newest_modified=None, last_sync=None, config=CFG
    )
    assert never.status == GREEN and "not ingested" in never.message
    missing = judge_freshness(
        "invoices", now=NOW, row_count=0, newest_modified=None, last_sync=None, config=CFG
    )
    assert missing.status == RED


def test_usual_silence_weights_each_gap_by_its_length() -> None:
    # Span 100 h, 5% = 5 h above X: only the 40 h gap reaches past 35 h (40 - 35 = 5).
    assert usual_silence_hours([40, 10, 10], 100) == pytest.approx(35.0)
    # 28 nightly gaps of 23 h in 4 weeks (672 h, 5% = 33.6 h): 28 (23 - X) = 33.6.
    assert usual_silence_hours([23] * 28, 672) == pytest.approx(21.8)
    assert usual_silence_hours([], 672) == 0.0


def test_freshness_of_a_sparse_entity_follows_its_own_gaps() -> None:
    # A small tenant's estimates: four 48 h weekends and thirty 10 h gaps in 4 weeks.
    # Largest first: (48 x 4 - 33.6) / 4 = 39.6 >= 10, so the usual silence is 39.6 h and
    # the limit max(25, 1.5 x 39.6) = 59.4 h.
    history = FreshnessHistory(weeks=4, records=40, gaps_hours=[48] * 4 + [10] * 30)
    fresh_sync = NOW - dt.timedelta(hours=2)
    kw = {"now": NOW, "row_count": 500, "last_sync": fresh_sync, "config": CFG}
    quiet = judge_freshness(
        "estimates", newest_modified=NOW - dt.timedelta(hours=40), history=history, **kw
    )
    assert quiet.status == GREEN, quiet.message  # 40 h > 25 h: RED under a fixed limit
    assert quiet.threshold["data_max_age_hours"] == 59.4
    stale = judge_freshness(
        "estimates", newest_modified=NOW - dt.timedelta(hours=60), history=history, **kw
    )
    assert stale.status == RED and "limit 59.4 h" in stale.message


def _business_hours_profile(weeks: int) -> list[int]:
    """One change in each of 16:00-19:00 UTC on every weekday of ``weeks`` weeks: 20 a
    week, none at night or at the weekend (a small office's payments)."""
    hourly = [0] * 168
    monday = dt.datetime(2025, 9, 1, tzinfo=dt.UTC)
    for day in range(5):
        for hour in range(16, 20):
            t = monday + dt.timedelta(days=day, hours=hour)
            hourly[int(t.timestamp() // 3600) % 168] += weeks  # the bucketing the SQL uses
    return hourly


def test_expected_changes_follow_the_hour_of_the_week() -> None:
    hourly = _business_hours_profile(4)
    friday = dt.datetime(2025, 9, 5, tzinfo=dt.UTC)
    # Friday 16:30..17:30 is half of the 16:00 hour and half of the 17:00 hour: 1 change
    # a week in each, so 0.5 + 0.5.
    span = (friday + dt.timedelta(hours=16.5), friday + dt.timedelta(hours=17.5))
    assert expected_changes(hourly, 4, *span) == pytest.approx(1.0)
    # Saturday and Sunday bring nothing; the whole week brings its 20.
    weekend = (friday + dt.timedelta(days=1), friday + dt.timedelta(days=3))
    assert expected_changes(hourly, 4, *weekend) == 0.0
    assert expected_changes(hourly, 4, friday, friday + dt.timedelta(days=7)) == 20.0


def test_freshness_silence_within_chance_is_green_but_a_working_days_silence_is_red() -> None:
    # Limit 59.4 h as above. The newest payment came on Friday 01:00 UTC; by Monday 00:00
    # the data is 71 h old, but the silence held only Friday's four office hours, one
    # change each a week: 4 expected, P(none) = e^-4 = 0.018 > freshness_p 0.001. GREEN.
    history = FreshnessHistory(
        weeks=4,
        records=80,
        gaps_hours=[48] * 4 + [10] * 30,
        hourly=_business_hours_profile(4),
    )
    newest = dt.datetime(2025, 9, 5, 1, tzinfo=dt.UTC)
    monday = dt.datetime(2025, 9, 8, tzinfo=dt.UTC)
    kw = {"row_count": 500, "newest_modified": newest, "config": CFG, "history": history}
    quiet = judge_freshness("payments", now=monday, last_sync=monday, **kw)
    assert quiet.status == GREEN, quiet.message
    assert quiet.numbers["expected_changes_in_silence"] == 4.0
    assert quiet.numbers["p_silence"] == pytest.approx(math.exp(-4))
    assert "within chance" in quiet.message
    # Tuesday 20:00: Friday's, Monday's and Tuesday's office hours have passed without a
    # change: 12 expected, P = e^-12 = 6e-6. RED.
    tuesday = dt.datetime(2025, 9, 9, 20, tzinfo=dt.UTC)
    stale = judge_freshness("payments", now=tuesday, last_sync=tuesday, **kw)
    assert stale.status == RED and "12 changes usual by now" in stale.message
    # The silence ends at the last sync: a sync on Monday morning has not seen Monday's
    # hours, so Tuesday's check without a newer sync judges 4 expected (its sync age,
    # 2 days, is RED on its own).
    old_sync = judge_freshness("payments", now=tuesday, last_sync=monday, **kw)
    assert old_sync.numbers["expected_changes_in_silence"] == 4.0
    assert "newest modifiedOn" not in old_sync.message and "last sync" in old_sync.message


def test_freshness_of_a_busy_entity_keeps_the_floor() -> None:
    # Twenty 12 h nights: (240 - 33.6) / 20 = 10.32 h; 1.5 x 10.32 < 25, the floor holds.
    history = FreshnessHistory(weeks=4, records=5000, gaps_hours=[12] * 20)
    res = judge_freshness(
        "jobs",
        now=NOW,
        row_count=9000,
        newest_modified=NOW - dt.timedelta(hours=26),
        last_sync=NOW - dt.timedelta(hours=1),
        config=CFG,
        history=history,
    )
    assert res.status == RED and res.threshold["data_max_age_hours"] == 25.0


def test_freshness_of_a_too_sparse_entity_judges_only_its_sync() -> None:
    history = FreshnessHistory(weeks=4, records=3, gaps_hours=[200, 150])
    kw = {"now": NOW, "row_count": 30, "config": CFG, "history": history}
    old = NOW - dt.timedelta(hours=300)
    ok = judge_freshness("invoices", newest_modified=old, last_sync=NOW, **kw)
    assert ok.status == GREEN and "too few to judge" in ok.message
    stale_sync = judge_freshness(
        "invoices", newest_modified=old, last_sync=NOW - dt.timedelta(hours=30), **kw
    )
    assert stale_sync.status == RED and "last sync 30.0 h ago" in stale_sync.message


def test_join_thresholds_red_yellow_green() -> None:
    assert judge_join("invoices_jobs", total=100, linked=89, config=CFG).status == RED
    assert judge_join("invoices_jobs", total=100, linked=95, config=CFG).status == YELLOW
    assert judge_join("invoices_jobs", total=100, linked=99, config=CFG).status == GREEN
    assert judge_join("payments_invoices", total=100, linked=94, config=CFG).status == RED
    assert judge_join("jobs_business_units", total=100, linked=99, config=CFG).status == RED
    res = judge_join("invoices_jobs", total=0, linked=0, config=CFG)
    assert res.status == GREEN and res.numbers["rate"] is None


def test_join_under_target_by_chance_is_green_but_a_steady_excess_is_yellow() -> None:
    # 99% target: 1,699 invoices allow 16.99 unlinked. 17 (98.99%) is that allowance:
    # P(X >= 17) for a Poisson count of mean 16.99 is about 0.5, far over join_p 0.01.
    res = judge_join("invoices_jobs", total=1699, linked=1682, config=CFG)
    assert res.status == GREEN and res.numbers["unlinked"] == 17
    assert "within chance" in res.message
    # 34 unlinked (twice the allowance) has P(X >= 34) ~ 0.0002 < 0.01: YELLOW.
    assert judge_join("invoices_jobs", total=1699, linked=1665, config=CFG).status == YELLOW
    # 528 invoices allow 5.28; 10 unlinked has P ~ 0.04 (chance), 15 has P ~ 0.0004.
    assert judge_join("invoices_jobs", total=528, linked=518, config=CFG).status == GREEN
    assert judge_join("invoices_jobs", total=528, linked=513, config=CFG).status == YELLOW


def _rows(weeks, bu, kpi, values, kind="money"):
    return [KpiRow(w, bu, kpi, kind, v) for w, v in zip(weeks, values, strict=True)]


def test_kpi_presence_ranges_and_jumps() -> None:
    weeks = kpi_weeks(KPI_TODAY, 5)
    assert weeks == [dt.date(2025, 8, d) for d in (4, 11, 18, 25)] + [dt.date(2025, 9, 1)]
    cfg = ValidationConfig(production_kpis=("produced", "gpm"), sales_kpis=("leads",))
    rows = (
        _rows(weeks, "P", "produced", [1000, 1100, 5000, 1050, 900])
        + _rows(weeks, "P", "gpm", [0.5, 0.45, 0.95, 0.5, -0.2], kind="ratio")
        + _rows(weeks[:4], "S", "leads", [3, 9, 4, 5], kind="count")
    )
    presence, ranges, jumps = judge_kpis(
        rows, {"P": "Production", "S": "Sales"}, weeks, cfg, KPI_TODAY
    )
    assert presence.status == RED
    assert presence.numbers["missing"] == [{"week": "2025-09-01", "bu": "S", "kpi": "leads"}]
    assert ranges.status == RED
    assert ranges.numbers["out_of_range"] == [
        {"week": "2025-08-18", "bu": "P", "kpi": "gpm", "value": 0.95}
    ]
    assert ranges.next_step == 'stkpi explain --kpi gpm --bu "P" --week 2025-08-18'
    _parses_with_the_real_cli(ranges.next_step)
    assert jumps.status == YELLOW
    # produced 5000 > 3 x 1100 (the highest other week); 900 is not under 1000 / 3.
    # gpm -0.2 < 0.45 (the lowest other week) - 0.5; 0.95 is not above 0.5 + 0.5.
    # leads: 9 and the median 4 of the others stay under the count base 10.
    assert {(j["kpi"], j["week"]) for j in jumps.numbers["jumps"]} == {
        ("produced", "2025-08-18"),
        ("gpm", "2025-09-01"),
    }


def test_kpi_small_bu_swinging_to_zero_is_not_a_jump_but_a_big_bu_collapse_is() -> None:
    weeks = kpi_weeks(KPI_TODAY, 6)
    cfg = ValidationConfig(production_kpis=("collected",), sales_kpis=())
    small = _rows(weeks, "Small", "collected", [1246, 0, 1357, 0, 1100, 0])
    # Big: 0 is under 48000 / 3, the lowest other week over 3.
    big = _rows(weeks, "Big", "collected", [50000, 52000, 48000, 51000, 49000, 0])
    roles = {"Small": "Production", "Big": "Production"}
    _, _, jumps = judge_kpis(small, roles, weeks, cfg, KPI_TODAY)
    assert jumps.status == GREEN
    _, _, jumps = judge_kpis(small + big, roles, weeks, cfg, KPI_TODAY)
    assert jumps.status == YELLOW
    assert [(j["bu"], j["week"]) for j in jumps.numbers["jumps"]] == [("Big", "2025-09-01")]
    # Too little history (fewer than 3 other weeks) judges nothing.
    two = judge_kpis(big[-3:], roles, weeks[-3:], cfg, KPI_TODAY)[2]
    assert two.status == GREEN


def test_kpi_spike_in_a_bu_that_already_swings_is_not_a_jump() -> None:
    weeks = kpi_weeks(KPI_TODAY, 5)
    cfg = ValidationConfig(production_kpis=("collected",), sales_kpis=())
    # Swinging: the other weeks run from 763 to 7019, over 3 x 763 = 2289, so the BU has no
    # usual range and 28134 (4x the highest) is one big job's payment: GREEN.
    swinging = _rows(weeks, "Nevada", "collected", [763, 7019, 2500, 4000, 28134])
    # Steady: the other weeks run from 6000 to 7019, within 3 x 6000 = 18000, so 28134
    # (over 3 x 7019 = 21057) leaves the usual range: YELLOW for that week only.
    steady = _rows(weeks, "Steady", "collected", [6000, 7019, 6500, 6800, 28134])
    roles = {"Nevada": "Production", "Steady": "Production"}
    assert judge_kpis(swinging, roles, weeks, cfg, KPI_TODAY)[2].status == GREEN
    jumps = judge_kpis(swinging + steady, roles, weeks, cfg, KPI_TODAY)[2]
    assert jumps.status == YELLOW
    assert [(j["bu"], j["week"]) for j in jumps.numbers["jumps"]] == [("Steady", "2025-09-01")]


def test_kpi_steady_values_are_green() -> None:
    weeks = kpi_weeks(KPI_TODAY, 4)
    cfg = ValidationConfig(production_kpis=("produced",), sales_kpis=())
    rows = _rows(weeks, "P", "produced", [1000, 1200, 900, 1100])
    results = judge_kpis(rows, {"P": "Production"}, weeks, cfg, KPI_TODAY)
    assert [r.status for r in results] == [GREEN, GREEN, GREEN]


def test_a_balance_is_not_judged_for_jumps_its_flows_are() -> None:
    # A/R is last week's A/R plus the week's invoices minus its payments. A small BU's
    # A/R moved between 3,738.15 and 9,161.27 (9,161.27 < 3 x 3,738.15 = 11,214.45:
    # steady), then a customer paid and it fell to 1,091.31, under 3,738.15 / 3 =
    # 1,246.05. As a flow that week would leave the usual range (YELLOW); as a balance it
    # is one payment, and the payment itself is judged in $ Collected: GREEN.
    weeks = kpi_weeks(KPI_TODAY, 6)
    series = [3738.15, 9161.27, 5000.00, 6200.00, 4100.00, 1091.31]
    cfg = ValidationConfig(production_kpis=("outstanding_ar", "produced"), sales_kpis=())
    ar = _rows(weeks, "Small", "outstanding_ar", series)
    assert judge_kpis(ar, {"Small": "Production"}, weeks, cfg, KPI_TODAY)[2].status == GREEN
    # The same numbers as $ Produced (a flow) leave the range: YELLOW, for the last week.
    flow = _rows(weeks, "Small", "produced", series)
    jumps = judge_kpis(flow, {"Small": "Production"}, weeks, cfg, KPI_TODAY)[2]
    assert jumps.status == YELLOW
    assert [j["week"] for j in jumps.numbers["jumps"]] == [weeks[-1].isoformat()]
    # Future Bookings is a balance too (booked minus produced): a new $11,202.90 booking
    # after eleven weeks at 1,881.29 is GREEN, where the flow would be YELLOW.
    weeks = kpi_weeks(KPI_TODAY, 12)
    cfg = ValidationConfig(production_kpis=("future_bookings",), sales_kpis=())
    fb = _rows(weeks, "Small", "future_bookings", [1881.29] * 11 + [11202.90])
    assert judge_kpis(fb, {"Small": "Production"}, weeks, cfg, KPI_TODAY)[2].status == GREEN


def test_dead_letters() -> None:
    assert judge_dead_letters({"st-plan": 0}).status == GREEN
    res = judge_dead_letters({"st-plan": 0, "st-loads": 3})
    assert res.status == RED and res.numbers["total"] == 3 and "st-loads: 3" in res.message


def test_config_overrides_from_json(tmp_path, monkeypatch) -> None:
    path = tmp_path / "v.json"
    path.write_text(
        json.dumps(
            {
                "freshness_max_hours": 30,
                "joins": {"invoices_jobs": {"red_below": 0.8}},
                "kpi_ranges": {"gpm": [-1, 1]},
                "volume_entities": ["jobs"],
            }
        )
    )
    cfg = load_validation_config(path)
    assert cfg.freshness_max_hours == 30
    assert cfg.join("invoices_jobs").red_below == 0.8
    assert cfg.join("invoices_jobs").target == 0.99
    assert cfg.kpi_ranges["gpm"] == (-1.0, 1.0)
    assert cfg.kpi_ranges["success_rate"] == (0.0, 1.0)
    assert cfg.volume_entities == ("jobs",)
    monkeypatch.setenv("STKPI_VALIDATION_CONFIG", str(path))
    assert load_validation_config().freshness_max_hours == 30


def test_bad_config_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="freshness_hours: unknown setting"):
        config_from_mapping({"freshness_hours": 3})
    with pytest.raises(ConfigError, match="red_below <= target"):
        config_from_mapping({"joins": {"invoices_jobs": {"red_below": 0.999}}})
    with pytest.raises(ConfigError, match="unknown join"):
        config_from_mapping({"joins": {"x_y": {}}})


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        # A count of weeks is a whole number: 2.5 is refused, not truncated or accepted.
        ({"kpi_weeks": 2.5}, "kpi_weeks: Input should be a valid integer (got 2.5)"),
        ({"kpi_weeks": True}, "kpi_weeks: Input should be a valid integer (got true)"),
        # A string where a number belongs is named (it raised a bare TypeError before).
        ({"freshness_max_hours": "25"}, "freshness_max_hours: Input should be a valid number"),
        ({"coverage_p": 0}, "coverage_p: Input should be greater than 0"),
        ({"volume_drop_ratio": 1.5}, "volume_drop_ratio: Input should be less than or equal to 1"),
        ({"kpi_weeks": 1}, "kpi_weeks: Input should be greater than or equal to 2"),
        # A misspelt key was silently ignored (the default stayed in force).
        ({"freshnes_max_hours": 30}, "freshnes_max_hours: unknown setting (did you mean "),
        ({"volume_entities": ["jobz"]}, "volume_entities: unknown entities ['jobz']"),
        ({"kpi_ranges": {"gpm": [1, -1]}}, "kpi_ranges.gpm: low 1.0 is above high -1.0"),
        ({"joins": {"invoices_jobs": {"target": "high"}}}, "joins.invoices_jobs.target"),
        ({"volume_p_red": 0.05}, "volume_p_red <= volume_p_yellow"),
    ],
)
def test_a_wrong_setting_is_refused_by_name(settings: dict, named: str) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_mapping(settings)
    assert named in str(err.value), str(err.value)


def test_every_problem_of_a_file_is_named_at_once(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.json"
    path.write_text('{"kpi_weeks": 2.5, "freshnes_max_hours": 30, "join_p": "0.01"}')
    with pytest.raises(ConfigError) as err:
        load_validation_config(path)
    text = str(err.value)
    assert str(path) in text
    assert all(k in text for k in ("kpi_weeks", "freshnes_max_hours", "join_p")), text


def test_mapping_settings_override_their_defaults_key_by_key() -> None:
    cfg = config_from_mapping(
        {"kpi_jump_min_base": {"money": 50.0}, "kpi_range_min_denominator": {"gpm": 10}}
    )
    assert cfg.kpi_jump_min_base == {"count": 10.0, "money": 50.0}
    assert cfg.kpi_range_min_denominator["gpm"] == 10.0
    assert set(cfg.kpi_range_min_denominator) == set(CFG.kpi_range_min_denominator)


def test_results_render_as_table_json_and_rows() -> None:
    results = [
        CheckResult(
            "join.invoices_jobs",
            RED,
            "invoices->jobs: 80/100 linked",
            {"rate": 0.8},
            {"red_below": 0.9},
            "sql/validations/join_invoices_jobs.sql",
            0.8,
        ),
        CheckResult("kpi.jumps", YELLOW, "1 jump"),
    ]
    console = Console(record=True, width=200)
    render_table(results, console)
    text = console.export_text()
    assert "RED" in text and "join.invoices_jobs" in text and "join_invoices_jobs.sql" in text
    assert "overall RED" in text
    doc = json.loads(to_json(results, run_id="adhoc", checked_at=NOW))
    assert doc["status"] == RED
    assert doc["checks"][0]["category"] == "join" and doc["checks"][0]["numbers"] == {"rate": 0.8}
    rows = result_rows(results, run_id="r1", checked_at=NOW)
    assert rows[0]["checked_at"] == "2025-09-10T15:00:00Z"
    assert json.loads(rows[0]["threshold"]) == {"red_below": 0.9}
    assert rows[1]["next_step"] is None
    assert worst(results) == RED


def _parses_with_the_real_cli(command: str) -> None:
    """A command the tool suggests must be one the CLI accepts (parsed, not run)."""
    import shlex

    import typer

    from stkpi_tools.cli import app

    group = typer.main.get_command(app)
    name, sub, *args = shlex.split(command)
    assert name == "stkpi"
    with group.make_context("stkpi", [sub, *args], resilient_parsing=False) as ctx:
        cmd = group.get_command(ctx, sub)
        assert cmd is not None, f"no such command: {sub}"
        cmd.make_context(sub, args, parent=ctx)  # raises a UsageError if it does not parse


def test_a_ratio_over_a_small_base_is_not_judged_against_its_range() -> None:
    # gpm 0.96 on $1,200 of revenue is one small invoice against a crew's week: not
    # judged (under the $5,000 floor). The same 0.96 on $42,000 is out of (-0.5, 0.9):
    # RED. A row without a denominator (older marts) is judged as before.
    weeks = kpi_weeks(KPI_TODAY, 3)
    cfg = ValidationConfig(production_kpis=("gpm",), sales_kpis=())
    small = [KpiRow(w, "P", "gpm", "ratio", 0.96, 1200.0) for w in weeks]
    _, ranges, _ = judge_kpis(small, {"P": "Production"}, weeks, cfg, KPI_TODAY)
    assert ranges.status == GREEN
    # Judged a month later, when every week's labor is in (see the unsettled test below).
    settled = KPI_TODAY + dt.timedelta(days=30)
    big = [*small[:2], KpiRow(weeks[2], "P", "gpm", "ratio", 0.96, 42000.0)]
    _, ranges, _ = judge_kpis(big, {"P": "Production"}, weeks, cfg, settled)
    assert ranges.status == RED and ranges.numbers["count"] == 1
    unknown = [*small[:2], KpiRow(weeks[2], "P", "gpm", "ratio", 0.96)]
    assert judge_kpis(unknown, {"P": "Production"}, weeks, cfg, settled)[1].status == RED


def test_a_week_whose_labor_may_not_be_in_is_judged_only_from_below() -> None:
    # Today 2025-09-10, kpi_settle_days 14: a week has settled when its Sunday is on or
    # before 2025-08-27. Weeks 08-11 and 08-18 (Sunday 08-24) have; 08-25 and 09-01 not.
    weeks = kpi_weeks(KPI_TODAY, 4)
    cfg = ValidationConfig(production_kpis=("gpm",), sales_kpis=())
    base = [0.5, 0.45, 0.5]
    # Unsettled 09-01 at 0.96 on $42,000: above 0.9, but labor may be missing: GREEN, and
    # said so. It is no upward jump either (0.96 > 0.5 + 0.5 would be one).
    late = _rows(weeks, "P", "gpm", [*base, 0.96], kind="ratio")
    late = [KpiRow(r.week_start, r.bu, r.kpi, r.kind, r.value, 42000.0) for r in late]
    _, ranges, jumps = judge_kpis(late, {"P": "Production"}, weeks, cfg, KPI_TODAY)
    assert ranges.status == GREEN and jumps.status == GREEN
    assert ranges.numbers["unsettled_high"] == [
        {"week": "2025-09-01", "bu": "P", "kpi": "gpm", "value": 0.96}
    ]
    assert "labor may not be in yet" in ranges.message
    # The same 0.96 in week 08-18 (Sunday 08-24, settled: its labor had 14 days) is RED.
    early = [
        KpiRow(w, "P", "gpm", "ratio", v, 42000.0)
        for w, v in zip(weeks, [0.5, 0.96, 0.45, 0.5], strict=True)
    ]
    _, ranges, _ = judge_kpis(early, {"P": "Production"}, weeks, cfg, KPI_TODAY)
    assert ranges.status == RED
    assert [o["week"] for o in ranges.numbers["out_of_range"]] == ["2025-08-18"]
    # Missing labor cannot make GPM low: -0.8 in the unsettled week is RED and a jump.
    low = [*late[:3], KpiRow(weeks[3], "P", "gpm", "ratio", -0.8, 42000.0)]
    _, ranges, jumps = judge_kpis(low, {"P": "Production"}, weeks, cfg, KPI_TODAY)
    assert ranges.status == RED and jumps.status == YELLOW
    # A KPI without late costs is judged in every week: collected has none.
    assert "gpm" in cfg.kpi_late_cost_kpis and "collected" not in cfg.kpi_late_cost_kpis


def test_a_month_of_payroll_is_judged_once_it_has_settled() -> None:
    from stkpi.validation.measures import date_column, first_unsettled_month

    # Jobs are counted by creation: on December 1st November is complete and judged.
    assert date_column("jobs") == "created_on"
    assert first_unsettled_month(dt.date(2026, 12, 1), 0) == dt.date(2026, 12, 1)
    # Payroll items are counted by the day worked and created after the payroll run.
    # December 1st minus 14 days is November 17th: November is still partial. December
    # 14th minus 14 is November 30th: still partial. December 15th minus 14 is December
    # 1st: November is judged.
    assert date_column("gross_pay_items") == "item_date"
    assert first_unsettled_month(dt.date(2026, 12, 1), 14) == dt.date(2026, 11, 1)
    assert first_unsettled_month(dt.date(2026, 12, 14), 14) == dt.date(2026, 11, 1)
    assert first_unsettled_month(dt.date(2026, 12, 15), 14) == dt.date(2026, 12, 1)
