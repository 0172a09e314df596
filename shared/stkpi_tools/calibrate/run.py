"""Judge many healthy tenants and the same tenants with one fault each, and count.

A tenant is the one ``stkpi demo`` builds for a clock hour (scale, seed and hour decide
it); the grid is seeds x every hour of some days x scales. For each, the healthy image is
judged, then each fault of ``faults.FAULTS`` is applied to it (one at a time, its target
drawn from a generator seeded by the tenant and the fault) and judged again. A healthy
tenant with any check not GREEN is a false alarm; a fault is caught when some check is
worse than on its healthy twin (so an alarm the tenant raised anyway does not count as
catching it).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from stkpi.validation.config import ValidationConfig
from stkpi.validation.result import CheckResult
from stkpi_tools.calibrate.faults import FAULT_FAMILY, FAULTS
from stkpi_tools.calibrate.image import demo_tenant, image_of
from stkpi_tools.calibrate.offline import judge_image

RANK = {"GREEN": 0, "YELLOW": 1, "RED": 2}
DEFAULT_DAYS = (dt.date(2026, 12, 7), dt.date(2025, 10, 1))
DEFAULT_SEEDS = (1, 2, 3, 4, 5, 6)
DEFAULT_SCALES = (0.01, 0.05)
GOAL_FALSE_ALARMS = 0.01
GOAL_DETECTION = 0.99


@dataclass(frozen=True)
class Grid:
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    days: tuple[dt.date, ...] = DEFAULT_DAYS
    scales: tuple[float, ...] = DEFAULT_SCALES

    def tenants(self) -> Iterator[tuple[float, int, dt.datetime]]:
        for scale in self.scales:
            for seed in self.seeds:
                for day in self.days:
                    for hour in range(24):
                        yield scale, seed, dt.datetime.combine(day, dt.time(hour), dt.UTC)

    def __len__(self) -> int:
        return len(self.seeds) * len(self.days) * 24 * len(self.scales)


def family(check: str) -> str:
    return check.split(".", 1)[0]


@dataclass
class TenantVerdict:
    """One tenant's healthy verdict and each fault's."""

    scale: float
    seed: int
    clock: str
    alarms: list[tuple[str, str, str]]  # (check, status, message) not GREEN when healthy
    faults: list[dict[str, Any]] = field(default_factory=list)


def judge_tenant(
    scale: float,
    seed: int,
    clock: dt.datetime,
    config: ValidationConfig,
    timezone: str,
    faults: Sequence[str] = tuple(FAULTS),
) -> TenantVerdict:
    tz = ZoneInfo(timezone)
    tenant = demo_tenant(scale, seed, clock)
    image = image_of(tenant)
    healthy = judge_image(image, config, tz)
    verdict = TenantVerdict(
        scale, seed, clock.isoformat(),
        [(r.name, r.status, r.message) for r in healthy if r.status != "GREEN"],
    )  # fmt: skip
    before = {r.name: RANK[r.status] for r in healthy}
    for k, name in enumerate(faults):
        rng = np.random.default_rng([seed, int(clock.timestamp()) // 3600, int(scale * 1e6), k])
        done = FAULTS[name](image, tenant, config, tz, rng)
        if done is None:
            verdict.faults.append({"fault": name, "applies": False})
            continue
        worse = [r for r in judge_image(done.image, config, tz) if _worse(r, before)]
        verdict.faults.append(
            {
                "fault": name,
                "applies": True,
                "family": done.family,
                "target": done.target,
                "caught": bool(worse),
                "by": sorted({family(r.name) for r in worse}),
                "checks": [f"{r.status} {r.name}: {r.message}" for r in worse][:3],
            }
        )
    return verdict


def _worse(result: CheckResult, before: dict[str, int]) -> bool:
    return RANK[result.status] > before.get(result.name, 0)


def calibrate(
    grid: Grid,
    config: ValidationConfig,
    timezone: str,
    *,
    workers: int = 1,
    on_tenant: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Judge every tenant of ``grid``; the tallies (see :func:`tally`)."""
    started = time.monotonic()
    jobs = list(grid.tenants())
    verdicts: list[TenantVerdict] = []
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            futures = [
                pool.submit(judge_tenant, s, seed, c, config, timezone) for s, seed, c in jobs
            ]
            for done, future in enumerate(futures, start=1):
                verdicts.append(future.result())
                if on_tenant:
                    on_tenant(done, len(jobs))
    else:
        for done, (s, seed, c) in enumerate(jobs, start=1):
            verdicts.append(judge_tenant(s, seed, c, config, timezone))
            if on_tenant:
                on_tenant(done, len(jobs))
    report = tally(verdicts)
    report["grid"] = {
        "seeds": list(grid.seeds),
        "days": [d.isoformat() for d in grid.days],
        "scales": list(grid.scales),
        "hours_per_day": 24,
        "timezone": timezone,
    }
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def tally(verdicts: Sequence[TenantVerdict]) -> dict[str, Any]:
    """False alarms per check family and overall; detection per fault, with the families
    that saw it; both per scale; and examples of each alarm and miss."""
    n = len(verdicts)
    families: Counter[str] = Counter()
    checks: Counter[str] = Counter()
    any_alarm = 0
    examples: dict[str, list[str]] = defaultdict(list)
    by_scale: dict[float, list[int]] = defaultdict(lambda: [0, 0])
    for v in verdicts:
        seen = {family(c) for c, _, _ in v.alarms}
        families.update(seen)
        checks.update({c for c, _, _ in v.alarms})
        any_alarm += bool(v.alarms)
        by_scale[v.scale][0] += 1
        by_scale[v.scale][1] += bool(v.alarms)
        for check, status, message in v.alarms:
            if len(examples[family(check)]) < 5:
                examples[family(check)].append(
                    f"scale {v.scale} seed {v.seed} {v.clock}: {status} {check}: {message}"
                )
    faults: dict[str, dict[str, Any]] = {}
    for v in verdicts:
        for f in v.faults:
            row = faults.setdefault(
                f["fault"],
                {"family": FAULT_FAMILY[f["fault"]], "n": 0, "caught": 0, "by": Counter(),
                 "misses": [], "by_scale": defaultdict(lambda: [0, 0]),
                 "not_applicable": Counter()},
            )  # fmt: skip
            if not f["applies"]:
                row["not_applicable"][str(v.scale)] += 1
                continue
            row["n"] += 1
            row["caught"] += f["caught"]
            row["by"].update(f["by"])
            row["by_scale"][v.scale][0] += 1
            row["by_scale"][v.scale][1] += f["caught"]
            if not f["caught"] and len(row["misses"]) < 5:
                row["misses"].append(f"scale {v.scale} seed {v.seed} {v.clock}: {f['target']}")
    faulted = sum(r["n"] for r in faults.values())
    caught = sum(r["caught"] for r in faults.values())
    return {
        "healthy": {
            "tenants": n,
            "false_alarms": any_alarm,
            "false_alarm_rate": _rate(any_alarm, n),
            "by_family": {
                f: {"tenants": k, "rate": _rate(k, n)} for f, k in sorted(families.items())
            },
            "by_check": dict(checks.most_common()),
            "by_scale": {
                str(s): {"tenants": t, "rate": _rate(a, t)} for s, (t, a) in by_scale.items()
            },
            "examples": dict(examples),
        },
        "faults": {
            name: {
                "family": r["family"],
                "n": r["n"],
                "caught": r["caught"],
                "detection_rate": _rate(r["caught"], r["n"]),
                "caught_by_family": dict(r["by"]),
                "by_scale": {
                    str(s): {"n": t, "rate": _rate(c, t)} for s, (t, c) in r["by_scale"].items()
                },
                "not_applicable": dict(r["not_applicable"]),
                "misses": r["misses"],
            }
            for name, r in faults.items()
        },
        "overall": {
            "false_alarm_rate": _rate(any_alarm, n),
            "detection_rate": _rate(caught, faulted),
            "goal_false_alarm_rate": GOAL_FALSE_ALARMS,
            "goal_detection_rate": GOAL_DETECTION,
            "meets_goal": _rate(any_alarm, n) <= GOAL_FALSE_ALARMS
            and _rate(caught, faulted) >= GOAL_DETECTION,
        },
    }


def _rate(k: int, n: int) -> float:
    return round(k / n, 4) if n else 0.0


def write_results(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """``out`` (JSON) and a Markdown table beside it (``.md``)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    md = out.with_suffix(".md")
    md.write_text(markdown(report))
    return out, md


def markdown(report: dict[str, Any]) -> str:
    h, o = report["healthy"], report["overall"]
    grid = report.get("grid", {})
    lines = [
        f"Healthy tenants: {h['tenants']} (seeds {grid.get('seeds')}, every hour of "
        f"{', '.join(grid.get('days', []))}, scales {grid.get('scales')}); "
        f"faulted: {sum(f['n'] for f in report['faults'].values())}.",
        "",
        "| check family | healthy tenants not GREEN | rate |",
        "|---|---|---|",
    ]
    for fam in ("freshness", "volume", "coverage", "join"):
        row = h["by_family"].get(fam, {"tenants": 0, "rate": 0.0})
        lines.append(f"| {fam} | {row['tenants']} | {row['rate']:.2%} |")
    lines.append(f"| **any** | {h['false_alarms']} | **{o['false_alarm_rate']:.2%}** |")
    per_scale = ", ".join(
        f"scale {k}: {v['rate']:.2%} of {v['tenants']}" for k, v in sorted(h["by_scale"].items())
    )
    lines += ["", f"Healthy tenants not GREEN by scale: {per_scale}."]
    lines += [
        "",
        "| fault | meant for | faulted | caught | detection | by scale | caught by | not applicable |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, f in report["faults"].items():
        by = ", ".join(f"{k} {v}" for k, v in sorted(f["caught_by_family"].items()))
        scales = ", ".join(f"{k}: {v['rate']:.1%}" for k, v in sorted(f["by_scale"].items()))
        na = ", ".join(f"scale {k}: {v}" for k, v in sorted(f["not_applicable"].items()))
        lines.append(
            f"| {name} | {f['family']} | {f['n']} | {f['caught']} | "
            f"{f['detection_rate']:.2%} | {scales} | {by} | {na} |"
        )
    lines.append(f"| **all** | | | | **{o['detection_rate']:.2%}** | | | |")
    return "\n".join(lines) + "\n"


def as_dict(verdict: TenantVerdict) -> dict[str, Any]:
    return asdict(verdict)
