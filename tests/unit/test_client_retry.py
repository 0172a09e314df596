"""Backoff bounds and Retry-After parsing: the pure parts of the retry policy."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from stkpi.servicetitan.retry import RetryPolicy, full_jitter, parse_retry_after


@pytest.mark.parametrize("failures", range(1, 12))
def test_full_jitter_stays_within_exponential_ceiling(failures):
    rng = random.Random(failures)
    ceiling = min(30.0, 0.5 * 2 ** (failures - 1))
    waits = [full_jitter(failures, 0.5, 30.0, rng) for _ in range(500)]
    assert all(0.0 <= w <= ceiling for w in waits)
    # full jitter spreads over the whole interval, not just near the top
    assert min(waits) < ceiling * 0.1
    assert max(waits) > ceiling * 0.9


def test_full_jitter_never_overflows_on_huge_attempt_numbers():
    assert 0 <= full_jitter(10_000, 1.0, 30.0, random.Random(1)) <= 30.0


def test_full_jitter_zero_for_no_failures_or_zero_base():
    rng = random.Random(0)
    assert full_jitter(0, 1.0, 30.0, rng) == 0
    assert full_jitter(3, 0.0, 30.0, rng) == 0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("5", 5.0),
        (" 2 ", 2.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (None, None),
        ("", None),
        ("soon", None),
        ("-3", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after_seconds(header, expected):
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date():
    now = datetime(2025, 8, 18, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(30.0)
    past = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


def test_throttle_wait_honors_and_caps_retry_after():
    policy = RetryPolicy(retry_after_cap=120.0)
    rng = random.Random(0)
    assert policy.throttle_wait(7.0, 1, rng) == 7.0
    assert policy.throttle_wait(3600.0, 1, rng) == 120.0


def test_throttle_wait_without_header_backs_off():
    policy = RetryPolicy(backoff_base=1.0, backoff_max=30.0)
    assert 0.0 <= policy.throttle_wait(None, 3, random.Random(0)) <= 4.0


def test_budgets_per_failure_kind():
    policy = RetryPolicy(max_attempts=6, max_throttled=12, max_malformed=2)
    assert policy.budget("error") == 6
    assert policy.budget("throttled") == 12
    assert policy.budget("malformed") == 3  # first try plus two retries
