"""The fault-injection suite (``stkpi chaos``) at tens of thousands of records per entity,
in two labs so two test workers run them side by side.

Each lab (fresh emulators, simulator, four function servers behind the dispatcher) runs
its scenarios in order; each is judged by comparing raw with the simulator key for key
(see ``stkpi_tools.chaos.runner``). The table is printed so a CI log shows what was proven.
Every scenario of ``SCENARIOS`` is in exactly one lab (``test_chaos_labs_cover_every_scenario``).
"""

from __future__ import annotations

from pathlib import Path

from stkpi_tools.chaos.lab import LabConfig
from stkpi_tools.chaos.runner import run_chaos, write_report
from stkpi_tools.chaos.scenarios import by_name
from stkpi_tools.cli.chaos import render

# Backfills and capacity: the first scenario backfills everything itself.
BACKFILL_LAB = (
    "backfill under API faults",
    "never-succeeding messages",
    "backfill far beyond function capacity",
    "deletes during a daily run",
)
# Crashes and duplicates on daily runs, after the lab's own setup backfill.
CRASH_LAB = (
    "SIGKILL mid-step",
    "duplicate delivery",
    "edits while paging",
    "crash while a window splits",
    "hostile API",
    "all at once",
)
# Three tenants in one deployment: a fault in one loses or doubles nothing in any.
TENANTS_LAB = ("one tenant of three",)
LABS = (BACKFILL_LAB, CRASH_LAB, TENANTS_LAB)


def run_lab(
    names: tuple[str, ...],
    out: Path,
    config: LabConfig | None = None,
    min_expected: int = 100_000,
) -> None:
    """Run one lab's scenarios (by default at scale 0.1) and fail with every scenario that
    did not pass."""
    scenarios = by_name(list(names))
    # scale 0.1: 22,000+ jobs, 24,000+ appointments, 21,000+ estimates, 17,000+ invoices
    report = run_chaos(out / "lab", scenarios, config or LabConfig(scale=0.1))
    write_report(report, out / "chaos-results.json")
    render(report)
    assert [s["name"] for s in report["scenarios"]] == list(names)
    assert min(s["expected"] for s in report["scenarios"]) > min_expected, "records enough"
    failures = [
        f"{s['name']}: {[c['check'] for c in s['checks'] if not c['ok']]} {s['error'] or ''}"
        for s in report["scenarios"]
        if not s["passed"]
    ]
    assert not failures, "\n".join(failures)
