"""The alerts of terraform/monitoring.tf can fire, and Google would accept them.

Filters are read from terraform/ through ``stkpi_tools.terraform.hcl.Module`` (interpolations
evaluated, never copied here);
log lines are the ones the code emits (``stkpi.log_contract`` through ``stkpi.logs``'
formatter), turned into LogEntries the way Cloud Logging does for a Cloud Run service.
tests/terraform/test_alerts_e2e.py does the same with lines a running rebuild_dims
function server printed.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
from filters import (
    extract,
    log_entry,
    log_matches,
    monitoring_matches,
    monitoring_restrictions,
    parse_logging,
    parse_monitoring,
)

from stkpi import log_contract, logs
from stkpi.validation.config import ValidationConfig
from stkpi.validation.judges.completeness import judge_volume
from stkpi.validation.judges.freshness import judge_freshness
from stkpi.validation.judges.joins import judge_join
from stkpi.validation.result import GREEN, RED, YELLOW, CheckResult
from stkpi_tools.terraform.hcl import Instance, Module

TF = Path(__file__).resolve().parents[2] / "terraform"


# ---- terraform/, evaluated ------------------------------------------------------------------


def example_tfvars() -> dict[str, Any]:
    """The example deploy's variables (terraform.tfvars.example)."""
    opts = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False)
    return hcl2.loads((TF / "terraform.tfvars.example").read_text(), serialization_options=opts)


@cache
def module() -> Module:
    """terraform/ with the example deploy's variables."""
    return Module(TF, example_tfvars())


def _one(type_: str, name: str) -> Instance:
    (instance,) = module().instances(type_, name).values()
    return instance


def function_service_names() -> list[str]:
    return [
        i.attr("name") for i in module().instances("google_cloudfunctions2_function", "fn").values()
    ]


def service_name(function: str) -> str:
    """The Cloud Run service a function's logs come from (gen2: the function's name)."""
    return module().instances("google_cloudfunctions2_function", "fn")[function].attr("name")


def logging_metric(name: str) -> dict[str, Any]:
    metric = _one("google_logging_metric", name)
    return {k: metric.attr(k) for k in ("name", "filter", "label_extractors")}


def alert_policies() -> dict[str, list[dict[str, str]]]:
    """Policy name -> its conditions' ``condition_threshold`` filters."""
    out = {}
    for _, name in module().resources("google_monitoring_alert_policy"):
        policy = _one("google_monitoring_alert_policy", name)
        out[name] = [
            {k: t.attr(k) for k in ("filter", "denominator_filter") if t.has(k)}
            for c in policy.block("conditions")
            for t in c.block("condition_threshold")
        ]
    return out


# ---- the log lines the code emits --------------------------------------------------------------


@contextmanager
def json_log_lines() -> Iterator[list[dict[str, Any]]]:
    """The JSON lines logged inside the block, formatted as ``stkpi.logs.setup`` does."""
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        lines.extend(json.loads(x) for x in buf.getvalue().splitlines() if x.startswith("{"))


def entries_of(lines: list[dict[str, Any]], function: str = "rebuild_dims") -> list[dict]:
    return [log_entry(line, service_name=service_name(function)) for line in lines]


def series_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The time series the validation_failed metric adds ``entry`` to."""
    metric = logging_metric("validation_failed")
    labels = {k: extract(x, entry) for k, x in metric["label_extractors"].items()}
    return {
        "metric": {"type": f"logging.googleapis.com/user/{metric['name']}", "labels": labels},
        "resource": entry["resource"],
    }


def firing(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Alert policy -> the entries that move one of its conditions' metric."""
    metric_filter = logging_metric("validation_failed")["filter"]
    counted = [e for e in entries if log_matches(metric_filter, e)]
    out: dict[str, list[dict[str, Any]]] = {}
    for policy, conds in alert_policies().items():
        hits = [
            e for e in counted if any(monitoring_matches(c["filter"], series_of(e)) for c in conds)
        ]
        if hits:
            out[policy] = hits
    return out


def alert_check_value(policy: str) -> str:
    """The ``metric.label.check`` value an alert's (single) condition selects."""
    (cond,) = alert_policies()[policy]
    values = [
        r.args
        for r in monitoring_restrictions(cond["filter"])
        if r.selector in ("metric.label.check", "metric.labels.check") and r.op == "="
    ]
    assert len(values) == 1 and len(values[0]) == 1, cond
    return values[0][0]


# ---- syntax ---------------------------------------------------------------------------------


def test_every_alert_policy_filter_is_monitoring_syntax() -> None:
    policies = alert_policies()
    assert {"freshness", "volume_drop", "dead_letters", "function_error_rate"} <= set(policies)
    for name, conds in policies.items():
        assert conds, name
        for cond in conds:
            for key, text in cond.items():
                assert "${" not in text, (name, key, text)
                parse_monitoring(text)


def test_value_lists_in_alert_policies_use_one_of() -> None:
    (rate, _) = alert_policies()["function_error_rate"]
    for key in ("filter", "denominator_filter"):
        (names,) = [
            r
            for r in monitoring_restrictions(rate[key])
            if r.selector == "resource.label.service_name"
        ]
        assert names.func == "one_of"
        assert sorted(names.args) == sorted(function_service_names())
    (dead,) = alert_policies()["dead_letters"]
    (subs,) = [
        r
        for r in monitoring_restrictions(dead["filter"])
        if r.selector == "resource.label.subscription_id"
    ]
    held = module().instances("google_pubsub_subscription", "dead_letter").values()
    assert subs.func == "one_of"
    assert sorted(subs.args) == sorted(i.attr("name") for i in held) != []


def test_every_logging_metric_filter_is_logging_syntax() -> None:
    for name in ("validation_failed", "function_errors"):
        metric = logging_metric(name)
        assert "${" not in metric["filter"]
        parse_logging(metric["filter"])
        for extractor in metric["label_extractors"].values():
            extract(extractor, {})


def test_alerted_check_values_are_families_of_the_log_contract() -> None:
    assert alert_check_value("freshness") == "freshness"
    assert alert_check_value("volume_drop") == "volume_drop"
    alerted = {alert_check_value(p) for p in ("freshness", "volume_drop")}
    assert alerted == log_contract.ALERTED_FAMILIES <= log_contract.FAMILIES
    metric = logging_metric("validation_failed")
    assert metric["label_extractors"] == {"check": f"EXTRACT(jsonPayload.{log_contract.CHECK})"}
    for field in (log_contract.EVENT, log_contract.PASSED):
        assert f"jsonPayload.{field}=" in metric["filter"]
    assert f'"{log_contract.VALIDATION_EVENT}"' in metric["filter"]


# ---- the contract's lines against the filters ---------------------------------------------

NOW = dt.datetime(2025, 9, 10, 15, 0, tzinfo=dt.UTC)
CONFIG = ValidationConfig()


def _stale() -> CheckResult:
    return judge_freshness(
        "invoices",
        now=NOW,
        row_count=10,
        newest_modified=NOW - dt.timedelta(hours=30),
        last_sync=NOW - dt.timedelta(hours=26),
        config=CONFIG,
    )


def _fresh() -> CheckResult:
    return judge_freshness(
        "invoices",
        now=NOW,
        row_count=10,
        newest_modified=NOW - dt.timedelta(hours=2),
        last_sync=NOW - dt.timedelta(hours=1),
        config=CONFIG,
    )


def _volume(count_on_check_day: int) -> CheckResult:
    day = dt.date(2025, 9, 9)
    # 40 a weekday for eight weeks: 4 is a drop no chance explains (P(X <= 4 | 40) ~ 1e-12,
    # RED); 36 is within the usual spread (90% of the median, not low: GREEN).
    counts = {day - dt.timedelta(days=7 * k): 40 for k in range(1, CONFIG.volume_weeks + 1)}
    counts[day] = count_on_check_day
    return judge_volume("jobs", day, counts, CONFIG)


def _logged(results: list[CheckResult]) -> list[dict[str, Any]]:
    with json_log_lines() as lines:
        log_contract.log_validations(results, run_id="run-1")
    assert len(lines) == len(results)  # exactly one line per check
    return lines


def test_one_line_per_check_with_the_contract_fields() -> None:
    join_yellow = judge_join("invoices_jobs", total=100, linked=95, config=CONFIG)
    assert join_yellow.status == YELLOW
    results = [_stale(), _fresh(), _volume(4), join_yellow]
    lines = _logged(results)
    assert [
        (x["event"], x["check"], x["passed"], x["status"], x["entity"], x["severity"])
        for x in lines
    ] == [
        ("validation", "freshness", False, RED, "invoices", "WARNING"),
        ("validation", "freshness", True, GREEN, "invoices", "INFO"),
        ("validation", "volume_drop", False, RED, "jobs", "WARNING"),
        ("validation", "join", True, YELLOW, None, "INFO"),
    ]
    assert all(x["run_id"] == "run-1" for x in lines)
    assert [x["check_name"] for x in lines] == [r.name for r in results]
    assert lines[0]["detail"] == results[0].message
    assert "next_step" in lines[0] and "next_step" not in lines[1]


@pytest.mark.parametrize(
    ("result", "policy", "family"),
    [(_stale, "freshness", "freshness"), (lambda: _volume(4), "volume_drop", "volume_drop")],
)
def test_a_failed_check_fires_its_alert_only(result, policy: str, family: str) -> None:
    entries = entries_of(_logged([result()]))
    metric = logging_metric("validation_failed")
    assert log_matches(metric["filter"], entries[0])
    assert extract(metric["label_extractors"]["check"], entries[0]) == family
    assert alert_check_value(policy) == family
    assert set(firing(entries)) == {policy}


def test_passed_and_yellow_checks_fire_nothing() -> None:
    join_yellow = judge_join("invoices_jobs", total=100, linked=95, config=CONFIG)
    entries = entries_of(_logged([_fresh(), _volume(36), join_yellow]))
    metric_filter = logging_metric("validation_failed")["filter"]
    assert not [e for e in entries if log_matches(metric_filter, e)]
    assert firing(entries) == {}


def test_a_failed_check_is_not_a_function_error() -> None:
    entries = entries_of(_logged([_stale(), _volume(0)]))
    errors = logging_metric("function_errors")["filter"]
    assert not [e for e in entries if log_matches(errors, e)]


def test_lines_from_another_service_are_not_counted() -> None:
    line = _logged([_stale()])[0]
    entry = log_entry(line, service_name="someone-elses-service")
    assert not log_matches(logging_metric("validation_failed")["filter"], entry)


def test_every_check_category_has_a_family() -> None:
    categories = {"coverage", "volume", "freshness", "join", "kpi", "pipeline"}
    assert set(log_contract.FAMILY_BY_CATEGORY) == categories
    assert log_contract.family("volume.jobs") == "volume_drop"
    assert log_contract.family("freshness.sync_state") == "freshness"
    assert log_contract.family("kpi.presence") == "kpi"
