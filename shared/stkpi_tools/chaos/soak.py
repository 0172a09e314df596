"""The soak: many daily runs back to back on one lab, under light faults, watching that
every run stays correct and the long-lived function processes do not grow.

Memory is read from ``/proc`` (VmRSS) of each function server's largest process after
every run; the first runs warm caches and imports, so growth is measured from the second
run on.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stkpi_tools.chaos.lab import ChaosLab, LabConfig
from stkpi_tools.results import machine

GROWTH_LIMIT_KIB = 32 * 1024  # a leak of one page per run shows long before this


def run_soak(root: Path, runs: int, config: LabConfig, *, on_run=None) -> dict[str, Any]:
    samples: list[dict[str, Any]] = []
    started = time.monotonic()
    with ChaosLab(root, config) as lab:
        lab.backfill("soak-backfill")
        lab.wait("soak-backfill")
        lab.sim.set_faults(error_rate=0.05)
        for i in range(1, runs + 1):
            run_id = f"soak-daily-{i:03d}"
            t0 = time.monotonic()
            lab.daily(run_id)
            lab.wait(run_id)
            comparisons = lab.compare()
            sample = {
                "run": run_id,
                "seconds": round(time.monotonic() - t0, 1),
                "rebuilt": lab.rebuilds(run_id).get("rebuilt", 0),
                "raw_equals_simulator": all(c.ok for c in comparisons),
                "records": sum(c.in_raw for c in comparisons),
                "memory_kib": {n: m["rss_kib"] for n, m in lab.memory().items()},
            }
            samples.append(sample)
            if on_run is not None:
                on_run(sample)
        lab.clear_faults()
    growth = memory_growth(samples)
    return {
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "runs": runs,
        "total_seconds": round(time.monotonic() - started, 1),
        "growth_kib_since_run_2": growth,
        "growth_limit_kib": GROWTH_LIMIT_KIB,
        "passed": bool(samples)
        and all(s["rebuilt"] == 1 and s["raw_equals_simulator"] for s in samples)
        and all(g <= GROWTH_LIMIT_KIB for g in growth.values()),
        "samples": samples,
    }


def memory_growth(samples: list[dict[str, Any]]) -> dict[str, int]:
    """Per function server: RSS after the last run minus RSS after the second."""
    if len(samples) < 3:
        return {}
    first, last = samples[1]["memory_kib"], samples[-1]["memory_kib"]
    return {name: last[name] - first[name] for name in last}
