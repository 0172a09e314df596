"""Unit tests of tests/terraform/filters.py: the Cloud Logging query subset and the Cloud
Monitoring filter syntax, each with matching and non-matching cases."""

from __future__ import annotations

import pytest
from filters import (
    FilterSyntaxError,
    extract,
    log_entry,
    log_matches,
    monitoring_matches,
    monitoring_restrictions,
    parse_logging,
    parse_monitoring,
)

LINE = {
    "time": "2025-09-10T15:00:00+00:00",
    "severity": "WARNING",
    "logger": "stkpi.validation",
    "message": "validation freshness.invoices: RED",
    "event": "validation",
    "check": "freshness",
    "passed": False,
    "status": "RED",
    "run_id": "validate-daily",
    "entity": "invoices",
    "value": 49.0,
    "nested": {"a": {"b": "deep"}},
}
ENTRY = log_entry(LINE, service_name="st-rebuild-dims")

SERVICE_FILTER = (
    'resource.type="cloud_run_revision" AND '
    'resource.labels.service_name=("st-plan-windows" OR "st-rebuild-dims")'
)


# ---- log_entry ----------------------------------------------------------------------------


def test_log_entry_lifts_severity_and_time_out_of_the_payload() -> None:
    assert ENTRY["severity"] == "WARNING"
    assert "severity" not in ENTRY["jsonPayload"] and "time" not in ENTRY["jsonPayload"]
    assert ENTRY["jsonPayload"]["message"] == LINE["message"]
    assert ENTRY["resource"] == {
        "type": "cloud_run_revision",
        "labels": {"service_name": "st-rebuild-dims"},
    }
    assert log_entry('{"message": "x"}', service_name="s")["severity"] == "DEFAULT"
    assert log_entry({"severity": "warn"}, service_name="s")["severity"] == "WARNING"


# ---- Cloud Logging queries ----------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        'jsonPayload.event="validation"',
        "jsonPayload.passed=false",
        "jsonPayload.passed!=true",
        "jsonPayload.value=49",
        "jsonPayload.value>25",
        "jsonPayload.value>=49.0",
        'jsonPayload.nested.a.b="deep"',
        'resource.type="cloud_run_revision"',
        'resource.labels.service_name="st-rebuild-dims"',
        "severity>=WARNING",
        "severity=WARNING",
        "severity<ERROR",
        "severity>=warning",
        'jsonPayload.check=("volume_drop" OR "freshness")',
        "jsonPayload.check=(freshness OR volume_drop)",
        SERVICE_FILTER,
        f'{SERVICE_FILTER} AND jsonPayload.event="validation" AND jsonPayload.passed=false',
        'jsonPayload.event="validation" jsonPayload.passed=false',  # implicit AND
        'NOT jsonPayload.check="volume_drop"',
        'NOT jsonPayload.missing="x"',
        '(jsonPayload.check="volume_drop" OR jsonPayload.check="freshness") AND severity>=INFO',
        # OR binds tighter than AND: a AND (b OR c)
        'jsonPayload.passed=false AND jsonPayload.check="nope" OR jsonPayload.entity="invoices"',
        'jsonPayload.message:"FRESHNESS"',
        'jsonPayload.run_id=~"^validate-"',
    ],
)
def test_queries_that_match(query: str) -> None:
    assert log_matches(query, ENTRY), query


@pytest.mark.parametrize(
    "query",
    [
        'jsonPayload.event="validations"',
        "jsonPayload.passed=true",
        'jsonPayload.passed="false"',  # a string is not the JSON boolean
        "jsonPayload.value=48",
        "jsonPayload.value<25",
        'jsonPayload.check="freshness.invoices"',
        'jsonPayload.missing="x"',
        'jsonPayload.nested.a.c="deep"',
        'resource.type="cloud_function"',
        'resource.labels.service_name=("st-fetch-window" OR "st-load-batch")',
        "severity>=ERROR",
        "severity=INFO",
        'NOT jsonPayload.check="freshness"',
        'jsonPayload.check=("volume_drop" OR "coverage")',
        # OR binds tighter than AND: false AND (true OR true) is false
        'jsonPayload.check="nope" AND jsonPayload.passed=false OR jsonPayload.entity="invoices"',
        f'{SERVICE_FILTER} AND jsonPayload.event="validation" AND jsonPayload.passed=true',
        'jsonPayload.run_id=~"^rebuild-"',
    ],
)
def test_queries_that_do_not_match(query: str) -> None:
    assert not log_matches(query, ENTRY), query


def test_the_function_filter_matches_by_service_name() -> None:
    other = log_entry(LINE, service_name="some-other-service")
    assert log_matches(SERVICE_FILTER, ENTRY)
    assert not log_matches(SERVICE_FILTER, other)
    not_run = {**ENTRY, "resource": {"type": "gce_instance", "labels": {}}}
    assert not log_matches(SERVICE_FILTER, not_run)


@pytest.mark.parametrize(
    "query",
    [
        'jsonPayload.event="validation" AND',
        '(jsonPayload.event="validation"',
        'jsonPayload.event="validation")',
        "jsonPayload.event=",
        '"validation"',  # global text search: not in this subset
        'jsonPayload.check=("a" OR)',
        "AND jsonPayload.passed=false",
    ],
)
def test_malformed_queries_are_rejected(query: str) -> None:
    with pytest.raises(FilterSyntaxError):
        parse_logging(query)


def test_label_extractors() -> None:
    assert extract("EXTRACT(jsonPayload.check)", ENTRY) == "freshness"
    assert extract("EXTRACT(jsonPayload.passed)", ENTRY) == "false"
    assert extract("EXTRACT(resource.labels.service_name)", ENTRY) == "st-rebuild-dims"
    assert extract("EXTRACT(jsonPayload.missing)", ENTRY) is None
    assert extract(r'REGEXP_EXTRACT(jsonPayload.message, "validation (\\w+)\\.")', ENTRY) == (
        "freshness"
    )
    with pytest.raises(FilterSyntaxError):
        extract("jsonPayload.check", ENTRY)


# ---- Cloud Monitoring filters -------------------------------------------------------------

METRIC = "logging.googleapis.com/user/stkpi/validation_failed"


@pytest.mark.parametrize(
    "text",
    [
        f'metric.type = "{METRIC}"',
        f'metric.type="{METRIC}" AND resource.type="cloud_run_revision"',
        f'metric.type = "{METRIC}" AND metric.label.check = "freshness"',
        f'metric.type = "{METRIC}" AND metric.labels.check = one_of("freshness")',
        'metric.type = "run.googleapis.com/request_count" AND '
        'resource.label.service_name = one_of("st-plan-windows", "st-rebuild-dims")',
        'metric.type = starts_with("run.googleapis.com/") AND resource.type = "cloud_run_revision"',
        'metric.type = "x" AND resource.label.service_name != ends_with("-dims")',
        'metric.type = "x" AND (resource.label.a = "b" OR NOT resource.label.a = "c")',
        'metric.type = "x" AND resource.label.zone = monitoring.regex.full_match("us-.*")',
        'metric.type = "x" AND metric.label.response_code = 500',
    ],
)
def test_valid_monitoring_filters(text: str) -> None:
    parse_monitoring(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        # today's (pre-fix) policy syntax: a Logging value list
        (
            'metric.type="pubsub.googleapis.com/subscription/num_undelivered_messages" AND '
            'resource.type="pubsub_subscription" AND '
            'resource.label.subscription_id=("st-plan-dead-letter-hold" OR '
            '"st-windows-dead-letter-hold")',
            "one_of",
        ),
        (
            'metric.type="run.googleapis.com/request_count" AND '
            'resource.label.service_name=("st-plan-windows")',
            "one_of",
        ),
        ('metric.type = "x" resource.type = "y"', "implicit AND"),
        ('metric.type = "x" AND jsonPayload.check = "freshness"', "selector"),
        ('metric.type = "x" AND resource.type = one_of()', "string"),
        ('metric.type = "x" AND resource.type = starts_with("a", "b")', "argument"),
        ('metric.type = "x" AND resource.type = unquoted', "quoted"),
        ('metric.type = "x" AND resource.type > one_of("a")', "takes = or !="),
        ('resource.type = "cloud_run_revision"', "metric.type"),
        ('metric.type = "x" AND (resource.type = "y"', "rparen"),
    ],
)
def test_invalid_monitoring_filters_are_rejected(text: str, why: str) -> None:
    with pytest.raises(FilterSyntaxError, match=why):
        parse_monitoring(text)


def test_monitoring_restrictions_and_matching() -> None:
    text = (
        f'metric.type="{METRIC}" AND resource.type="cloud_run_revision" '
        'AND metric.label.check="freshness"'
    )
    rs = monitoring_restrictions(text)
    assert [(r.selector, r.op, r.args) for r in rs] == [
        ("metric.type", "=", (METRIC,)),
        ("resource.type", "=", ("cloud_run_revision",)),
        ("metric.label.check", "=", ("freshness",)),
    ]
    series = {
        "metric": {"type": METRIC, "labels": {"check": "freshness"}},
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "st-rebuild-dims"}},
    }
    assert monitoring_matches(text, series)
    other = {**series, "metric": {"type": METRIC, "labels": {"check": "volume_drop"}}}
    assert not monitoring_matches(text, other)
    one_of = 'metric.type = "x" AND resource.label.service_name = one_of("a", "st-rebuild-dims")'
    assert monitoring_matches(one_of, {**series, "metric": {"type": "x"}})
    assert not monitoring_matches(one_of, {"metric": {"type": "x"}, "resource": {"labels": {}}})
    negated = 'metric.type = "x" AND NOT resource.label.service_name = starts_with("st-")'
    assert not monitoring_matches(negated, {**series, "metric": {"type": "x"}})
