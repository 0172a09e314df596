"""The statistics the judges share: baselines and how surprising a count is."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Sequence


def median_baseline(counts: Sequence[int]) -> float:
    return float(statistics.median(counts)) if counts else 0.0


def dispersion(counts: Sequence[int]) -> float:
    """Variance over mean of ``counts``, at least 1: how much more than a Poisson count they
    spread (quasi-Poisson). Real monthly counts do: seasons, a job with several estimates
    at once. Dividing a count and its expected mean by this before a Poisson test keeps
    that ordinary spread from reading as a gap; under 3 counts there is no estimate (1)."""
    if len(counts) < 3:
        return 1.0
    mean = statistics.fmean(counts)
    if mean <= 0:
        return 1.0
    return max(1.0, statistics.variance(counts) / mean)


def poisson_sf(k: int, mean: float) -> float:
    """P(X >= k) for a Poisson count with ``mean``: how surprising a high count is.

    Above the mean the upper tail itself is summed (in log space, from ``k`` until the
    terms no longer count): ``1 - P(X <= k - 1)`` would lose every digit there, and a
    tail of 1e-40 would read 0.0, as likely as an impossible count. At or below the mean
    the tail is at least about a half, and ``1 - cdf`` is exact enough.
    """
    if k <= 0:
        return 1.0
    if mean <= 0:
        return 0.0  # the count is always 0
    if k <= mean:
        return max(0.0, 1.0 - poisson_cdf(k - 1, mean))
    log_mean = math.log(mean)
    term = k * log_mean - mean - math.lgamma(k + 1)
    terms = [term]
    i = k
    # Past the mean each term is smaller than the one before by mean / i: stop once a term
    # is e^-40 of the first (~4e-18), beyond what a float sum can hold.
    while term > terms[0] - 40.0:
        i += 1
        term += log_mean - math.log(i)
        terms.append(term)
    return _sum_of_exps(terms)


def poisson_cdf(k: int, mean: float) -> float:
    """P(X <= k) for a Poisson count with ``mean``: how surprising a low count is.

    Record counts of a day or a month behave roughly like Poisson counts, whose spread is
    the square root of the mean: 1 where 3 are usual happens (P = 0.2); 10 where 100 are
    usual does not (P ~ 1e-30). Summed in log space so large means do not underflow.
    """
    if k < 0:
        return 0.0
    if mean <= 0:
        return 1.0
    log_mean = math.log(mean)
    return _sum_of_exps([i * log_mean - mean - math.lgamma(i + 1) for i in range(k + 1)])


def negative_binomial_cdf(k: int, mean: float, dispersion: float) -> float:
    """P(X <= k) for a count with ``mean`` and variance ``dispersion`` x ``mean``: a
    Poisson count when ``dispersion`` is 1, a negative binomial (gamma-Poisson) above.

    Records that come in clumps (two or three estimates to a sales visit, a crew's day of
    pay items, several invoices to a job) make monthly counts spread ``dispersion`` times
    more than a Poisson count of the same mean. A negative binomial keeps that spread in
    the middle and a proper tail at the extremes: a month with no estimates where 35 are
    usual and visits bring 2 each is rare, P ~ 1e-6, where dividing the counts by the
    dispersion first (a quasi-Poisson) would call it 0.001. Summed in log space.
    """
    if k < 0:
        return 0.0
    if mean <= 0:
        return 1.0
    if dispersion <= 1.0:
        return poisson_cdf(k, mean)
    size = mean / (dispersion - 1.0)  # the gamma's shape: mean = size (1 - p) / p
    log_p, log_q = math.log(size / (size + mean)), math.log(mean / (size + mean))
    base = size * log_p - math.lgamma(size)
    return _sum_of_exps(
        [base + math.lgamma(i + size) - math.lgamma(i + 1) + i * log_q for i in range(k + 1)]
    )


def share_cdf(k: int, n: int, share: float) -> float:
    """P(X <= k) for X ~ Binomial(n, share): how surprising it is that one of several
    periods holds only ``k`` of their ``n`` records when it should hold ``share`` of them.

    The test of one month against the m months before it, given their total: under the
    same rate each of the m + 1 months holds 1 / (m + 1) of the records. Unlike a Poisson
    test against the baseline's mean, it counts the noise of the baseline months too; six
    months of 33 invoices do not pin their rate down to 33. Summed in log space.
    """
    if k < 0:
        return 0.0
    if k >= n or share <= 0:
        return 1.0  # at most n records; with no share, none
    if share >= 1:
        return 0.0  # all n records, more than k
    lp, lq = math.log(share), math.log1p(-share)
    return _sum_of_exps(
        [
            math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
            for i in range(k + 1)
        ]
    )


def _sum_of_exps(terms: Sequence[float]) -> float:
    """sum(exp(t)) of log-probabilities, capped at 1, without underflow: the largest term
    is factored out first."""
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def usual_silence_hours(gaps_hours: Sequence[float], span_hours: float, q: float = 0.95) -> float:
    """The data age the entity stayed under for ``q`` of the time over ``span_hours``.

    Not the 95th percentile of the gaps: a tenant with 500 changes a day has thousands of
    second-long gaps and one 60-hour weekend, and its data is 40 hours old every Monday
    morning. Weighting each gap by its length gives the age a check at a random moment
    would have seen: the time with age above X is the sum of (gap - X) over the gaps
    longer than X. Solved exactly, largest gaps first.
    """
    target = (1 - q) * span_hours
    gaps = sorted((g for g in gaps_hours if g > 0), reverse=True)
    total = 0.0
    for k, g in enumerate(gaps, start=1):
        total += g
        x = (total - target) / k
        nxt = gaps[k] if k < len(gaps) else 0.0
        if x >= nxt:
            return max(0.0, x)
    return 0.0


def expected_changes(
    hourly: Sequence[int], weeks: int, start: dt.datetime, end: dt.datetime
) -> float:
    """How many changes the span ``start``..``end`` usually brings: each hour's share of the
    span times the entity's mean count for that hour of the week (``hourly``: 168 counts over
    ``weeks`` weeks, bucketed by epoch hour mod 168 as ``freshness_hourly.sql`` does).

    A constant rate would expect a small tenant's Saturday to bring as many payments as
    its Tuesday; the hour of the week knows that offices close.
    """
    if len(hourly) != 168:
        raise ValueError(f"hourly needs 168 counts (one per hour of the week), got {len(hourly)}")
    t0, t1 = start.timestamp(), end.timestamp()
    total = 0.0
    hour = math.floor(t0 / 3600)
    while hour * 3600 < t1:
        overlap = min(t1, (hour + 1) * 3600) - max(t0, hour * 3600)
        total += overlap / 3600 * hourly[hour % 168]
        hour += 1
    return total / weeks
