"""CPU seconds each process of the local stack used: the pipeline's cost apart from the rest.

On this machine the simulator, the four function servers, the emulators and the plumbing
(IAM gate, front doors, dispatcher) share the same cores, so the wall time of a run does
not say what the pipeline itself costs. Each service runs in its own process group; its
CPU is the sum over the group's live processes of ``utime + stime`` and of
``cutime + cstime`` (children that exited and were reaped: gunicorn workers, gcloud's
java), read from ``/proc/<pid>/stat`` before and after a run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

from stkpi_tools.localstack.process import group_pids

# Service name in StackInfo -> the group the benchmark reports it in.
GROUPS = {
    "simulator": "simulator",
    "gcs": "emulators",
    "bigquery": "emulators",
    "pubsub": "emulators",
    "iam-gate": "plumbing",
    "front": "plumbing",
    "dispatcher": "plumbing",
}
BENCH = "bench"  # this process: it publishes the plan, polls the run, runs the baseline


def _clock_ticks() -> int:
    return int(os.sysconf("SC_CLK_TCK"))


def stat_ticks(stat: str) -> int:
    """utime + stime + cutime + cstime (clock ticks) from the text of ``/proc/<pid>/stat``.

    The command name (field 2) may hold spaces and parentheses: fields are counted after
    the last ``)``, where field 3 (state) is index 0, so utime (14) is index 11."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14))


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds of one process and its reaped children; 0 if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    return stat_ticks(text) / _clock_ticks()


def group_cpu_seconds(pgid: int) -> float:
    return sum(process_cpu_seconds(pid) for pid in group_pids(pgid))


def snapshot(pids: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far of every service (by process group id) and of this process."""
    out = {name: group_cpu_seconds(pgid) for name, pgid in pids.items()}
    out[BENCH] = time.process_time()
    return out


def delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds per service between two snapshots (never negative: a process that
    exited unreaped between them takes its time with it)."""
    return {
        name: round(max(0.0, after[name] - before.get(name, 0.0)), 2)
        for name in sorted(after)
        if name in before
    }


def group_of(service: str) -> str:
    if service.startswith("fn-"):
        return "functions"
    return GROUPS.get(service, BENCH if service == BENCH else "other")


def grouped(per_service: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds per group: simulator, functions, emulators, plumbing, bench (+ total)."""
    out: dict[str, float] = {}
    for name, seconds in per_service.items():
        group = group_of(name)
        out[group] = out.get(group, 0.0) + seconds
    out = {k: round(v, 2) for k, v in sorted(out.items())}
    out["total"] = round(sum(per_service.values()), 2)
    return out
