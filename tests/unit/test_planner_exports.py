"""Which runs read an entity's export, and how an export window is planned (docs/EXPORTS.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stkpi.errors import BadMessageError
from stkpi.messages import PlanMessage, WindowMessage, decode
from stkpi.planner import plan_run
from stkpi.registry import DELETABLE, ENTITIES, REFERENCE, TRANSACTIONAL, get_entity

NOW = datetime(2025, 10, 1, 12, 34, tzinfo=UTC)
END = datetime(2025, 10, 1, 12, tzinfo=UTC)  # now floored to the hour
MARK = datetime(2025, 9, 30, 12, tzinfo=UTC)

# Frozen on purpose (the decision docs/EXPORTS.md explains, measured by `stkpi bench-reads`):
# a change of which runs read which endpoint must show up in review.
EXPORT_RUNS = {
    **{name: ("daily",) for name in TRANSACTIONAL},
    "inventory_bills": ("backfill", "daily"),
    **{name: () for name in REFERENCE},
}


def test_which_runs_read_the_export_is_the_documented_decision() -> None:
    assert {e.name: e.export_runs for e in ENTITIES} == EXPORT_RUNS
    for entity in ENTITIES:  # an entity can read only an export ServiceTitan publishes
        assert not entity.export_runs or entity.export_resource is not None, entity.name


def test_a_daily_run_follows_each_feed_from_its_token() -> None:
    plan = plan_run(
        PlanMessage(run_type="daily", entities=["jobs", "estimates", "business_units"]),
        now=NOW,
        default_window_days=30,
        marks={"jobs": MARK, "estimates": MARK},
        tokens={"jobs": "tok-jobs"},
    )
    by_entity = {w.entity: w for w in plan.windows}
    assert len(plan.windows) == 3  # one export window each; the reference list stays a list
    jobs, estimates, bus = by_entity["jobs"], by_entity["estimates"], by_entity["business_units"]
    assert jobs.export and jobs.continue_from == "tok-jobs" and jobs.end == END
    # No token yet (the first daily after a backfill by list): the feed starts at the date
    # of the mark minus the lookback, as the list window would (estimates: 180 days).
    assert (
        estimates.export
        and estimates.continue_from == (MARK - timedelta(days=180)).date().isoformat()
    )
    assert not bus.export and bus.continue_from is None
    assert plan.entity_ends == {"jobs": END, "estimates": END, "business_units": END}


def test_a_daily_run_that_names_its_start_reads_from_that_date_not_the_token() -> None:
    start = datetime(2025, 9, 1, tzinfo=UTC)
    plan = plan_run(
        PlanMessage(run_type="daily", entities=["jobs"], start=start),
        now=NOW, default_window_days=30, tokens={"jobs": "tok-jobs"},
    )  # fmt: skip
    (window,) = plan.windows
    assert window.continue_from == (start - timedelta(days=7)).date().isoformat()


def test_a_backfill_pages_lists_except_the_bare_array_bills() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    plan = plan_run(
        PlanMessage(run_type="backfill", entities=["jobs", "inventory_bills"], start=start,
                    end=END, window_days=100),
        now=NOW, default_window_days=30,
    )  # fmt: skip
    jobs = [w for w in plan.windows if w.entity == "jobs"]
    (bills,) = [w for w in plan.windows if w.entity == "inventory_bills"]
    assert len(jobs) > 1 and not any(w.export for w in jobs)  # windows side by side
    assert bills.export and bills.continue_from == "2024-01-01" and bills.end == END


def test_key_scans_and_reference_refreshes_read_lists() -> None:
    scan = plan_run(PlanMessage(run_type="deletes"), now=NOW, default_window_days=3660)
    assert {w.entity for w in scan.windows} == set(DELETABLE)
    assert not any(w.export for w in scan.windows)
    ref = plan_run(PlanMessage(run_type="reference"), now=NOW, default_window_days=30)
    assert not any(w.export for w in ref.windows)


def test_export_windows_survive_the_stored_plan() -> None:
    plan = plan_run(
        PlanMessage(run_type="daily", entities=["payments"]),
        now=NOW, default_window_days=30, marks={"payments": MARK}, tokens={"payments": "t"},
    )  # fmt: skip
    again = type(plan).from_manifest(plan.manifest())
    assert again.windows == plan.windows and again.windows[0].continue_from == "t"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"entity": "jobs", "continue_from": "t"}, "continue_from applies to export windows"),
        ({"entity": "job_types", "export": True}, "job_types has no export endpoint"),
        ({"entity": "estimates", "export": True, "scan": True}, "a key scan reads the list"),
    ],
)
def test_a_malformed_export_window_is_refused_by_name(fields: dict, problem: str) -> None:
    body = {"v": 1, "run_id": "r", "window_id": "w", "start": "2025-09-30T00:00:00Z",
            "end": "2025-10-01T00:00:00Z", **fields}  # fmt: skip
    with pytest.raises(BadMessageError, match=problem):
        decode(WindowMessage, body)


def test_reads_export_needs_an_export_endpoint() -> None:
    assert get_entity("jobs").reads_export("daily")
    assert not get_entity("jobs").reads_export("backfill")
    assert not get_entity("job_types").reads_export("daily")
