"""The three-tenant profile: three tenants of different sizes backfilled at once by one
deployment at ServiceTitan's limits, against the largest of them alone.

ServiceTitan's rate limit is per (app key, tenant): 60 requests/s each, pages of 5,000 (the
``st`` profile, its answer times included). Each tenant's context has its own client, token
bucket and lanes (docs/TENANTS.md), so one deployment should fetch three tenants nearly as
fast as the largest alone; what they share is the deployment (fetch_window's instances, the
load and rebuild functions, the warehouse). Goal: the three finish in at most 1.5x the time
of the largest alone.

One lab (``stkpi_tools.chaos.lab``: the deployed shape, sized by terraform/ for three
tenants) serves the three: the deployment's default tenant is the
largest (``scales[0]``), the two added ones (registered as ``stkpi tenant add`` does) the
others. First the largest is backfilled alone; then all three at once, the largest again
(a backfill fetches and loads the whole history whatever raw holds, so it does the same
work). Each tenant's time is from the plans' publication to its rebuild marker. A script's
figures, never a test's verdict (a test runs it tiny: tests/chaos/test_bench_tenants.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stkpi.landing import Landing
from stkpi.messages import PlanMessage
from stkpi_tools.bench.figures import stage_figures
from stkpi_tools.bench.profiles import ST, Profile
from stkpi_tools.bench.runner import Log, deployment_window_days, profile_config, query_rows
from stkpi_tools.chaos.lab import ChaosLab, LabConfig
from stkpi_tools.results import markdown_table, stamped, write_json
from stkpi_tools.sim.config import HISTORY_START, TenantSpec

GOAL = 1.5  # the three at once in at most this many times the largest alone
# The two tenants besides the deployment's default one: their data, zones and names.
ADDED = (
    ("2000", 7, "America/Los_Angeles", "Silver State Painting"),
    ("3000", 11, "America/Phoenix", "Old Pueblo Painting"),
)


@dataclass(frozen=True)
class TenantsBenchConfig:
    scales: tuple[float, float, float] = (0.3, 0.1, 0.03)  # the largest first
    profile: Profile = ST
    concurrency: int = 8
    seed: int = 42
    timeout: float = 4 * 3600

    def tenants(self) -> tuple[TenantSpec, ...]:
        """The added tenants, at ``scales[1:]``."""
        return tuple(
            TenantSpec(tid, seed=seed, scale=scale, time_zone=zone, display_name=name)
            for (tid, seed, zone, name), scale in zip(ADDED, self.scales[1:], strict=True)
        )


def run_tenants_bench(root: Path, cfg: TenantsBenchConfig, log: Log = print) -> dict[str, Any]:
    """The largest tenant alone, then the three at once; the figures of both."""
    if len(cfg.scales) != 3 or sorted(cfg.scales, reverse=True) != list(cfg.scales):
        raise ValueError(f"three scales, the largest first: {cfg.scales}")
    profile = cfg.profile
    lab_cfg = LabConfig(
        scale=cfg.scales[0], seed=cfg.seed, concurrency=cfg.concurrency,
        page_size=profile.page_size, sim_rate_limit=profile.rate_limit,
        client_rate_limit=None, tf_variables=profile.deployment_variables(),
        window_days=deployment_window_days(), run_timeout=cfg.timeout,
        tenants=cfg.tenants(),
    )  # fmt: skip
    started = time.monotonic()
    with ChaosLab(root, lab_cfg) as lab:
        log(f"three tenants up in {time.monotonic() - started:.0f}s ({', '.join(lab.tenant_ids)})")
        for tenant in lab.tenant_ids:  # every tenant answers as ServiceTitan does
            lab.sim.of(tenant).set_faults(**profile.sim_faults())
        largest = lab.tenant_ids[0]
        log(f"tenant {largest} (scale {cfg.scales[0]:g}) alone")
        alone = _backfill_at_once(lab, {largest: "bench-alone"}, profile, cfg.timeout)
        log("the three at once")
        runs = {t: f"bench-three-t{t}" for t in lab.tenant_ids}
        together = _backfill_at_once(lab, runs, profile, cfg.timeout)
        log("raw against each tenant's simulator")
        bad = [c.describe() for t in lab.tenant_ids for c in lab.compare(tenant_id=t) if not c.ok]
    ratio = together["seconds"] / alone["seconds"] if alone["seconds"] else None
    config = {"scales": list(cfg.scales), "tenants": lab.tenant_ids,
              "concurrency": cfg.concurrency, "seed": cfg.seed,
              "profile": {profile.name: profile_config(profile)}}  # fmt: skip
    return {
        **stamped(config),
        "alone": alone,
        "together": together,
        "ratio": round(ratio, 2) if ratio is not None else None,
        "goal": GOAL,
        "met": ratio is not None and ratio <= GOAL,
        "raw_equals_simulator": not bad,  # every tenant's copy whole, nothing doubled
        "raw_differences": bad[:10],
    }


def _backfill_at_once(
    lab: ChaosLab, runs: dict[str, str], profile: Profile, timeout: float
) -> dict[str, Any]:
    """Backfill each tenant's whole history (``runs``: tenant -> run id), all published at
    once; each tenant's figures, and the time until the last was rebuilt."""
    default = lab.tenant_ids[0]
    before = {t: lab.sim.of(t).stats() for t in runs}
    started = time.monotonic()
    for tenant, run_id in runs.items():
        lab.publish(PlanMessage(
            run_type="backfill", start=HISTORY_START, end=lab.sim.now, run_id=run_id,
            tenant_id=None if tenant == default else tenant,
        ))  # fmt: skip
    done: dict[str, float] = {}
    deadline = started + timeout
    while len(done) < len(runs):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not rebuilt after {timeout:.0f}s: {sorted(set(runs) - set(done))}")
        for tenant, run_id in runs.items():
            landing = lab.ctx.for_tenant(tenant).landing
            if tenant not in done and landing.exists(Landing.rebuild_done_name(run_id)):
                done[tenant] = time.monotonic() - started
        time.sleep(0.5)
    figures = {}
    for tenant, run_id in runs.items():
        lab.wait(run_id, tenant_id=tenant)  # done: its plan's ends, for the comparison
        settings = lab.ctx.for_tenant(tenant).settings
        after = lab.sim.of(tenant).stats()
        requests = after["requests"] - before[tenant]["requests"]
        stages = stage_figures(
            query_rows(lab, "window_events.sql", run_id, settings),
            query_rows(lab, "run_events.sql", run_id, settings),
            requests=requests,
            ceiling=profile.ceiling,
        )
        records = stages["fetch"]["records"]
        seconds = done[tenant]
        figures[tenant] = {
            "run_id": run_id,
            "seconds": round(seconds, 1),
            "records": records,
            "records_per_second": round(records / seconds, 1) if seconds else 0.0,
            "requests": requests,
            "throttled_429": after["throttled_429"] - before[tenant]["throttled_429"],
            "fetch_records_per_second": stages["fetch"].get("records_per_second", 0),
        }
    return {"seconds": round(max(done.values()), 1), "tenants": figures}


HEADER = ["run", "tenant", "records", "s to rebuilt", "records/s", "requests", "429s"]


def rows(report: dict[str, Any]) -> list[list[str]]:
    out = []
    for label in ("alone", "together"):
        for tenant, f in report[label]["tenants"].items():
            out.append([label, tenant, f"{f['records']:,}", f"{f['seconds']:.0f}",
                        f"{f['records_per_second']:,.0f}", f"{f['requests']:,}",
                        str(f["throttled_429"])])  # fmt: skip
    return out


def markdown(report: dict[str, Any]) -> str:
    ratio = report["ratio"]
    verdict = "met" if report["met"] else "NOT met"
    lines = markdown_table(HEADER, rows(report))
    lines.append("")
    lines.append(
        f"The three at once: {report['together']['seconds']:.0f} s; the largest alone: "
        f"{report['alone']['seconds']:.0f} s; ratio {ratio}x (goal <= {report['goal']}x: "
        f"{verdict}). Raw equals each tenant's simulator: "
        f"{'yes' if report['raw_equals_simulator'] else 'NO'}."
    )
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], path: Path) -> list[Path]:
    return write_json(report, path, markdown(report))
