"""One benchmark pass per scale and API profile: our backfill, the naive baseline, a daily run.

Each (scale, profile) gets a fresh lab (``stkpi_tools.chaos.lab``: the deployed shape,
dispatcher fan-out) with the simulator limited to the profile's rate and answering after
its latency model (fixed + per record requested: a real API is not instant, and a page of
5,000 takes longer than a page of 500). The client's own token bucket is set to the same
limit and its page size to the profile's, as a deploy tuned for that API would be.
Figures come from the ops tables (``sql/*.sql`` here, aggregated by
``stkpi_tools.bench.figures``), the simulator's request counters, the landing bucket, and
``/proc`` of the processes the lab started (CPU seconds and peak memory).
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from google.cloud import bigquery

from stkpi import sqlfiles
from stkpi.config import Settings
from stkpi.messages import PlanMessage
from stkpi_tools.bench import cpu
from stkpi_tools.bench.baseline import naive_backfill
from stkpi_tools.bench.figures import cpu_per_thousand, stage_figures
from stkpi_tools.bench.profiles import ST, Profile
from stkpi_tools.chaos.lab import ChaosLab, LabConfig
from stkpi_tools.localstack.provision import patched_environ
from stkpi_tools.localstack.services import DEFAULT_PROJECT
from stkpi_tools.localstack.settings_env import local_settings_env
from stkpi_tools.results import machine
from stkpi_tools.sim.config import HISTORY_START

SAMPLE_PAGES = 40  # pages decompressed to measure the gzip ratio
SQL_DIR = Path(__file__).resolve().parent / "sql"

Log = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    scales: tuple[float, ...] = (0.1, 0.3, 1.0)
    profiles: tuple[Profile, ...] = (ST,)
    concurrency: int = 8
    # None: plans give no window length and the deployment's default applies (windows
    # sized by record count); set only when the user asks for fixed-length windows.
    window_days: int | None = None
    baseline: bool = True
    seed: int = 42


# Settings of the deployment that decide how much the fetch keeps in flight (terraform/).
DEPLOYMENT_KEYS = ("WINDOW_DAYS", "WINDOW_LANES", "FETCH_PAGES_IN_FLIGHT", "WINDOW_TARGET_PAGES")


def deployment_settings(variables: Mapping[str, Any] | None = None) -> dict[str, int]:
    """The deployment's window and concurrency settings, as terraform/ gives them to the
    functions (with a profile's ``variables``): what "What bounds the run" needs to say
    how many requests the pipeline can keep in flight."""
    env = local_settings_env(DEFAULT_PROJECT, variables=variables)
    return {k: int(env[k]) for k in DEPLOYMENT_KEYS if env.get(k, "").isdigit()}


def deployment_window_days() -> int:
    """WINDOW_DAYS as terraform/ deploys it (the planner's default for plans without one).

    The benchmark hands it to the lab explicitly, so its report can name the window length
    it ran with; a lab without one plans with the same value."""
    return deployment_settings()["WINDOW_DAYS"]


def bench_one(
    root: Path, scale: float, profile: Profile, cfg: BenchConfig, log: Log = print
) -> dict[str, Any]:
    """Backfill, daily run and naive baseline of one scale on one API profile."""
    lab_cfg = LabConfig(
        scale=scale,
        seed=cfg.seed,
        concurrency=cfg.concurrency,
        page_size=profile.page_size,
        sim_rate_limit=profile.rate_limit,
        client_rate_limit=None,  # the deployment's own buckets (profile.deployment_variables)
        tf_variables=profile.deployment_variables(),
        window_days=cfg.window_days or deployment_window_days(),
        run_timeout=4 * 3600,
    )
    tag = f"scale {scale:g} / {profile.name}"
    t0 = time.monotonic()
    with ChaosLab(root, lab_cfg) as lab:
        setup = time.monotonic() - t0
        log(f"{tag}: stack up in {setup:.0f}s; backfill")
        lab.sim.set_faults(**profile.sim_faults())
        out: dict[str, Any] = {
            "scale": scale,
            "profile": profile.name,
            "setup_seconds": round(setup, 1),
        }
        out["backfill"] = _timed_run(lab, "bench-backfill", profile, cfg, backfill=True)
        out["landing"] = landing_figures(lab, "bench-backfill", out["backfill"]["records"])
        out["memory_after_backfill_kib"] = lab.memory()
        log(f"{tag}: daily increment")
        out["daily"] = _timed_run(lab, "bench-daily", profile, cfg, backfill=False)
        out["memory_kib"] = lab.memory()
        if cfg.baseline:
            log(f"{tag}: naive baseline (one process, sequential pages, no windows)")
            out["baseline"] = _naive(lab, profile)
            ours, naive = out["backfill"], out["baseline"]
            out["speedup"] = (
                round(ours["records_per_second"] / naive["records_per_second"], 2)
                if ours["records_per_second"] and naive["records_per_second"]
                else None
            )
            ours_cpu = ours["cpu"]["per_1000_records"]["total"]
            naive_cpu = naive["cpu"]["per_1000_records"]["total"]
            out["cpu_ratio"] = round(ours_cpu / naive_cpu, 2) if naive_cpu else None
    return out


def _publish_backfill(lab: ChaosLab, run_id: str, window_days: int | None) -> None:
    """The whole simulated history; ``window_days`` only when the user gave one."""
    msg = PlanMessage(
        run_type="backfill",
        start=HISTORY_START,
        end=lab.sim.now,  # the pipeline's now: see ChaosLab.daily
        window_days=window_days,
        run_id=run_id,
    )
    lab.publish(msg)


def _timed_run(
    lab: ChaosLab, run_id: str, profile: Profile, cfg: BenchConfig, *, backfill: bool
) -> dict[str, Any]:
    before = lab.sim.stats()
    cpu_before = cpu.snapshot(lab.info.pids)
    started = time.monotonic()
    if backfill:
        _publish_backfill(lab, run_id, cfg.window_days)
    else:
        lab.daily(run_id)
    lab.wait(run_id)
    seconds = time.monotonic() - started
    cpu_used = cpu.delta(cpu_before, cpu.snapshot(lab.info.pids))
    after = lab.sim.stats()
    requests = after["requests"] - before["requests"]
    stages = stage_figures(
        query_rows(lab, "window_events.sql", run_id),
        query_rows(lab, "run_events.sql", run_id),
        requests=requests,
        ceiling=profile.ceiling,
    )
    records = stages["fetch"]["records"]
    return {
        "run_id": run_id,
        "seconds": round(seconds, 1),
        "records": records,
        "records_per_second": round(records / seconds, 1) if seconds else 0.0,
        "requests": requests,
        "throttled_429": after["throttled_429"] - before["throttled_429"],
        "records_per_request": round(records / requests, 1) if requests else 0.0,
        "stages": stages,
        "cpu": cpu_figures(cpu_used, records),
    }


def cpu_figures(per_service: dict[str, float], records: int) -> dict[str, Any]:
    """CPU seconds per service and group, and per 1,000 records per group."""
    groups = cpu.grouped(per_service)
    return {
        "seconds": per_service,
        "groups": groups,
        "per_1000_records": {g: cpu_per_thousand(s, records) for g, s in groups.items()},
    }


def _naive(lab: ChaosLab, profile: Profile) -> dict[str, Any]:
    before = lab.sim.stats()["requests"]
    cpu_before = cpu.snapshot(lab.info.pids)
    # The old ingestor ran with the project owner's rights (it created its own datasets),
    # so it reaches the emulators directly, as terraform apply does, not through the IAM
    # gate that judges the operator and the functions.
    with patched_environ(lab.info.admin_env_vars):
        # One process with the tenant's whole limit as its token bucket.
        settings = lab.ctx.settings.model_copy(
            update={"st_rate_limit_per_second": profile.rate_limit}
        )
        naive = naive_backfill(settings, lab.sim.now)
    cpu_used = cpu.delta(cpu_before, cpu.snapshot(lab.info.pids))
    naive["requests"] = lab.sim.stats()["requests"] - before
    naive["records_per_request"] = (
        round(naive["records"] / naive["requests"], 1) if naive["requests"] else 0.0
    )
    naive["cpu"] = cpu_figures(cpu_used, naive["records"])
    return naive


def query_rows(
    lab: ChaosLab, name: str, run_id: str, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Rows of one of this package's SQL files for one run (datasets filled in as
    ``stkpi.sqlfiles`` does, the deployment's or ``settings``'s: a tenant's; the run id is
    a query parameter, never spliced)."""
    sql = Template((SQL_DIR / name).read_text()).substitute(
        sqlfiles.dataset_params(settings or lab.ctx.settings)
    )
    job = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("run_id", "STRING", run_id)]
    )
    return [dict(row.items()) for row in lab.ctx.bigquery.query_and_wait(sql, job_config=job)]


def landing_figures(lab: ChaosLab, run_id: str, records: int) -> dict[str, Any]:
    """Stored (gzip) bytes per record, and the compression ratio from a sample of pages."""
    sizes = {
        name: size
        for name, size in lab.ctx.landing.object_sizes("landing/").items()
        if f"/run={run_id}/" in name and name.endswith(".json.gz")
    }
    stored = sum(sizes.values())
    sample = sorted(sizes)[:: max(1, len(sizes) // SAMPLE_PAGES)][:SAMPLE_PAGES]
    raw = packed = 0
    for name in sample:
        data = lab.ctx.landing.read_bytes(name)
        packed += len(data)
        raw += len(gzip.decompress(data))
    return {
        "pages": len(sizes),
        "stored_bytes": stored,
        "bytes_per_record": round(stored / records, 1) if records else 0.0,
        "gzip_ratio": round(raw / packed, 2) if packed else 0.0,
    }


def run_bench(root: Path, cfg: BenchConfig, log: Log = print) -> dict[str, Any]:
    """Every scale on every profile (profiles inner, so one scale's rows sit together)."""
    started = time.monotonic()
    runs = [bench_one(root, s, p, cfg, log) for s in cfg.scales for p in cfg.profiles]
    return {
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "config": {
            "scales": list(cfg.scales),
            "concurrency": cfg.concurrency,
            "window_days": cfg.window_days,
            "deployment_window_days": deployment_window_days(),
            "baseline": cfg.baseline,
            "seed": cfg.seed,
            "profiles": {p.name: profile_config(p) for p in cfg.profiles},
        },
        "total_seconds": round(time.monotonic() - started, 1),
        "runs": runs,
    }


def profile_config(p: Profile) -> dict[str, Any]:
    variables = p.deployment_variables()
    return {
        "rate_limit": p.rate_limit,
        "page_size": p.page_size,
        "latency_ms": p.latency_ms,
        "latency_per_record_ms": p.latency_per_record_ms,
        "full_page_ms": round(1000 * p.latency_seconds(p.page_size)),
        "one_record_ms": round(1000 * p.latency_seconds(1)),
        "ceiling_records_per_second": p.ceiling,
        "in_flight_needed": round(p.in_flight_needed, 1),
        "deployment_variables": variables,
        "deployment": deployment_settings(variables),
    }
