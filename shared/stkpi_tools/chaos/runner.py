"""Run chaos scenarios on one lab and judge each: the table ``stkpi chaos`` prints.

A scenario passes when its own checks pass and, after it, raw equals the simulator key
for key (no loss, no duplicates, latest versions), every run it started was rebuilt
exactly once, every armed crash point fired, no function server is left dead, and the
dead-letter queues hold only the messages it left there on purpose.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stkpi_tools.chaos.lab import ChaosLab, LabConfig
from stkpi_tools.chaos.scenarios import Scenario, Trial
from stkpi_tools.results import machine, markdown_table, write_json


@dataclass
class ScenarioResult:
    name: str
    faults: str
    expected: int = 0  # records the simulator serves after the scenario
    in_raw: int = 0
    duplicates: int = 0
    lost: int = 0  # missing + outdated + unexpected keys
    runs: int = 0
    rebuilds: int = 0  # `rebuilt` events over the scenario's runs (1 per run expected)
    retries: int = 0  # deliveries that failed and Pub/Sub redelivered
    api_faults: int = 0  # 5xx, 429, 401, damaged pages the simulator served
    duplicated: int = 0  # messages the dispatcher delivered twice at once
    dead_letters: int = 0
    seconds: float = 0.0
    checks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(c["ok"] for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def run_scenario(lab: ChaosLab, scenario: Scenario) -> ScenarioResult:
    result = ScenarioResult(scenario.name, scenario.faults)
    lab.dead_letters(consume=True)  # each scenario starts with empty dead-letter queues
    before = lab.counters()
    trial = Trial()
    started = time.monotonic()
    try:
        scenario.run(lab, trial)
    except Exception as exc:  # a scenario that blows up is a FAIL with its reason
        result.error = f"{type(exc).__name__}: {exc}"
        result.notes.append(traceback.format_exc(limit=3))
        lab.clear_faults()
    result.seconds = round(time.monotonic() - started, 1)
    delta = lab.counters() - before
    result.retries, result.api_faults = delta.redeliveries, delta.api_faults
    result.duplicated = delta.duplicated
    result.dead_letters = sum(lab.dead_letters().values())
    if result.dead_letters != trial.dead_letters_expected:  # say which, for the table's reader
        result.notes.extend(f"dead letter: {d.summary()}" for d in lab.list_dead_letters())
    result.runs = len(trial.runs) + len(trial.tenant_runs)
    result.checks = [{"check": what, "ok": ok} for what, ok in trial.checks]
    result.notes.extend(trial.notes)
    _judge_common(lab, trial, result)
    return result


def _judge_common(lab: ChaosLab, trial: Trial, result: ScenarioResult) -> None:
    def check(ok: bool, what: str) -> None:
        result.checks.append({"check": what, "ok": bool(ok)})

    # every tenant the lab serves: a fault in one must lose or double nothing in any
    # (an added tenant once it has run: before, nothing of it is due)
    by_tenant = {t: lab.compare(tenant_id=t) for t in lab.tenant_ids[1:] if lab.horizon_of(t).ends}
    comparisons = lab.compare() + [c for cs in by_tenant.values() for c in cs]
    result.expected = sum(c.expected for c in comparisons)
    result.in_raw = sum(c.in_raw for c in comparisons)
    result.duplicates = sum(c.duplicates for c in comparisons)
    result.lost = sum(c.missing + c.outdated + c.unexpected for c in comparisons)
    bad = [c.describe() for c in comparisons if not c.ok]
    whose = f" (tenants {', '.join(lab.tenant_ids)})" if by_tenant else ""
    check(not bad, f"raw equals the simulator key for key{whose}" + (f": {bad[:3]}" if bad else ""))
    counts = {run: lab.rebuilds(run).get("rebuilt", 0) for run in trial.runs}
    for tenant, run in trial.tenant_runs:
        counts[f"{run} (t{tenant})"] = lab.rebuilds(run, tenant).get("rebuilt", 0)
    result.rebuilds = sum(counts.values())
    check(all(n == 1 for n in counts.values()), f"each run rebuilt exactly once {counts}")
    check(not lab.armed(), f"every armed crash point fired (left: {lab.armed()})")
    lab.disarm()
    check(lab.functions_alive(), "every function server is serving")
    check(
        result.dead_letters == trial.dead_letters_expected,
        f"dead letters {result.dead_letters} == {trial.dead_letters_expected} expected",
    )


def run_chaos(
    root: Path, scenarios: list[Scenario], config: LabConfig, *, on_result=None
) -> dict[str, Any]:
    """Start a lab, backfill it if the first scenario is not a backfill, run the
    scenarios in order; returns the report (also what ``--out`` writes)."""
    started = time.monotonic()
    results: list[ScenarioResult] = []
    with ChaosLab(root, config) as lab:
        if scenarios and not scenarios[0].backfills_everything:
            lab.backfill("chaos-setup-backfill")  # daily runs need the history in place
            lab.wait("chaos-setup-backfill")
        setup = time.monotonic() - started
        for scenario in scenarios:
            result = run_scenario(lab, scenario)
            results.append(result)
            if on_result is not None:
                on_result(result)
        memory = lab.memory()
    return {
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "config": asdict(config),
        "setup_seconds": round(setup, 1),
        "total_seconds": round(time.monotonic() - started, 1),
        "passed": all(r.passed for r in results),
        "scenarios": [r.to_json() for r in results],
        "function_memory_kib": memory,
    }


HEADER = (
    "scenario", "faults injected", "expected", "in raw", "dupes", "lost", "rebuilds",
    "retries", "API faults", "dead letters", "s", "result",
)  # fmt: skip


def rows(report: dict[str, Any]) -> list[list[str]]:
    """One row per scenario, in HEADER's order (the terminal table and the Markdown)."""
    return [_row(r) for r in report.get("scenarios", [])]


def _row(r: dict[str, Any]) -> list[str]:
    return [
        r["name"], r["faults"], f"{r['expected']:,}", f"{r['in_raw']:,}",
        str(r["duplicates"]), str(r["lost"]), f"{r['rebuilds']}/{r['runs']}",
        str(r["retries"]), str(r["api_faults"]), str(r["dead_letters"]),
        f"{r['seconds']:.0f}", "PASS" if r["passed"] else "FAIL",
    ]  # fmt: skip


def markdown(report: dict[str, Any]) -> str:
    lines = markdown_table(HEADER, rows(report))
    m, cfg = report["machine"], report["config"]
    lines += [
        "",
        f"Scale {cfg['scale']}, {cfg['concurrency']} deliveries at once per function; "
        f"{m['cpus']} CPUs, Python {m['python']}; finished {report['finished_at'][:16]}Z, "
        f"{report['total_seconds']:.0f} s in all.",
    ]
    return "\n".join(lines)


def write_report(report: dict[str, Any], path: Path) -> Path:
    """The JSON report at ``path`` (and, for scenario runs, its table beside it as .md)."""
    md = markdown(report) if "scenarios" in report else None
    return write_json(report, path, md)[0]
