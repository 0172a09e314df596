"""One benchmark pass per scale: our backfill, the naive baseline, a daily increment.

Each scale gets a fresh lab (``stkpi.chaos.lab``: the deployed shape, dispatcher fan-out)
with the simulator limited to ``rate_limit`` requests/s and answering after ``latency_ms``
(a real API is not instant; the naive ingestor waits for every answer). The client's own
bucket is set to the same limit, as a deploy with one fetch instance would be. Figures come
from the ops tables (per-window durations), the simulator's request counters, the landing
bucket and ``/proc`` of the function servers.
"""

from __future__ import annotations

import gzip
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stkpi.bench.baseline import naive_backfill
from stkpi.chaos.lab import ChaosLab, LabConfig
from stkpi.results import machine

SAMPLE_PAGES = 40  # pages decompressed to measure the gzip ratio


@dataclass(frozen=True)
class BenchConfig:
    scales: tuple[float, ...] = (0.1, 0.3, 1.0)
    rate_limit: float = 10.0
    page_size: int = 500
    latency_ms: int = 200
    concurrency: int = 8
    window_days: int = 365
    baseline: bool = True
    seed: int = 42

    @property
    def ceiling(self) -> float:
        """Records/s no client can beat: every allowed request returns a full page."""
        return self.rate_limit * self.page_size


def bench_scale(root: Path, scale: float, cfg: BenchConfig, log=print) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    lab_cfg = LabConfig(
        scale=scale,
        seed=cfg.seed,
        concurrency=cfg.concurrency,
        page_size=cfg.page_size,
        sim_rate_limit=cfg.rate_limit,
        client_rate_limit=cfg.rate_limit,
        window_days=cfg.window_days,
        run_timeout=4 * 3600,
    )
    t0 = time.monotonic()
    with ChaosLab(root, lab_cfg) as lab:
        setup = time.monotonic() - t0
        log(f"scale {scale}: stack up in {setup:.0f}s; backfill")
        lab.sim.set_faults(latency_ms=cfg.latency_ms)
        out: dict[str, Any] = {"scale": scale, "setup_seconds": round(setup, 1)}
        out["backfill"] = _timed_run(lab, "bench-backfill", cfg, backfill=True)
        out["landing"] = landing_figures(lab, "bench-backfill", out["backfill"]["records"])
        out["memory_after_backfill_kib"] = lab.memory()
        log(f"scale {scale}: daily increment")
        out["daily"] = _timed_run(lab, "bench-daily", cfg, backfill=False)
        out["memory_kib"] = lab.memory()
        if cfg.baseline:
            log(f"scale {scale}: naive baseline (one process, sequential pages, no windows)")
            before = lab.sim.stats()["requests"]
            naive = naive_backfill(lab.ctx.settings, lab.sim.now)
            naive["requests"] = lab.sim.stats()["requests"] - before
            out["baseline"] = naive
            ours = out["backfill"]["records_per_second"]
            out["speedup"] = round(ours / naive["records_per_second"], 2) if ours else None
    return out


def _timed_run(lab: ChaosLab, run_id: str, cfg: BenchConfig, *, backfill: bool) -> dict[str, Any]:
    requests_before = lab.sim.stats()
    started = time.monotonic()
    if backfill:
        lab.backfill(run_id)
    else:
        lab.daily(run_id)
    lab.wait(run_id)
    seconds = time.monotonic() - started
    after = lab.sim.stats()
    stages = stage_figures(lab, run_id, cfg)
    records = stages.get("fetch", {}).get("records", 0)
    requests = after["requests"] - requests_before["requests"]
    return {
        "run_id": run_id,
        "seconds": round(seconds, 1),
        "records": records,
        "records_per_second": round(records / seconds, 1) if seconds else 0.0,
        "requests": requests,
        "throttled_429": after["throttled_429"] - requests_before["throttled_429"],
        "records_per_request": round(records / requests, 1) if requests else 0.0,
        "stages": stages,
    }


def stage_figures(lab: ChaosLab, run_id: str, cfg: BenchConfig) -> dict[str, dict[str, Any]]:
    rows = lab.ctx.state.query_file("ops/bench_stages.sql", run_id=run_id)
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        span = (r["last_end"] - r["first_start"]).total_seconds()
        records = int(r["records"] or 0)
        fig = {
            "windows": int(r["windows"]),
            "records": records,
            "span_seconds": round(span, 1),
            "busy_seconds": round((r["busy_ms"] or 0) / 1000, 1),
            "records_per_second": round(records / span, 1) if span > 0 else 0.0,
        }
        if r["stage"] == "fetch":
            fig["ceiling_ratio"] = round(fig["records_per_second"] / cfg.ceiling, 3)
        else:
            fig["load_jobs"] = int(r["load_jobs"] or 0)
            # load_window issues exactly one MERGE per load job (windows with records)
            fig["merges"] = fig["load_jobs"]
            fig["load_job_seconds"] = round((r["load_ms"] or 0) / 1000, 1)
            fig["merge_seconds"] = round((r["merge_ms"] or 0) / 1000, 1)
            for part in ("load_job", "merge"):
                busy = fig[f"{part}_seconds"]
                # per worker-second: what one instance does; x concurrency = the ceiling here
                fig[f"{part}_records_per_busy_second"] = round(records / busy, 1) if busy else 0.0
        out[r["stage"]] = fig
    events = lab.ctx.state.query_file("ops/run_event_durations.sql", run_id=run_id)
    rebuilt = next((e for e in events if e["state"] == "rebuilt"), None)
    if rebuilt is not None:
        out["rebuild"] = {"seconds": round((rebuilt["duration_ms"] or 0) / 1000, 1)}
    return out


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


def run_bench(root: Path, cfg: BenchConfig, log=print) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    scales = [bench_scale(root, s, cfg, log) for s in cfg.scales]
    return {
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "config": {**asdict(cfg), "ceiling_records_per_second": cfg.ceiling},
        "total_seconds": round(time.monotonic() - started, 1),
        "scales": scales,
    }
