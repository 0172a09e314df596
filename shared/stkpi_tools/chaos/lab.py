"""``ChaosLab``: the local stack with every fault lever in reach, and the probes a verdict needs.

The stack is the deployed shape: four functions-framework servers fed by Pub/Sub pull
subscriptions through the dispatcher (fan-out, ack, retry policy, dead-letter topics), the
simulator in its own process. Levers: simulator faults (``/_sim/faults``), crash points
armed in ``STKPI_CRASH_FILE`` (exceptions or SIGKILL of a function process), duplicate
delivery in the dispatcher (``/faults``). Probes: raw against the simulator key for key,
rebuild events, dispatcher and simulator counters, dead-letter queues, process memory.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from stkpi.config import load_settings
from stkpi.context import PipelineContext
from stkpi.deadletters import DeadLetter, count_dead_letters, list_dead_letters
from stkpi.landing import Landing
from stkpi.messages import PlanMessage
from stkpi.planner import RunPlan
from stkpi_tools.chaos.compare import CopyHorizon, EntityComparison, compare_raw
from stkpi_tools.localstack import Stack, StackInfo
from stkpi_tools.localstack.functions import FUNCTIONS
from stkpi_tools.localstack.process import group_pids, memory_kib
from stkpi_tools.localstack.provision import patched_environ
from stkpi_tools.runs import wait_for_run
from stkpi_tools.sim.admin import SimAdmin
from stkpi_tools.sim.config import DEFAULT_NOW, HISTORY_START, FaultConfig, TenantSpec

FUNCTION_SERVICES = tuple(f"fn-{fn}" for fn in FUNCTIONS)  # their names in StackInfo
API_FAULT_COUNTERS = ("status_429", "status_401", "body_truncate", "body_malformed")


@dataclass(frozen=True)
class LabConfig:
    scale: float = 0.1
    seed: int = 11
    concurrency: int = 8  # deliveries at once per function (the dispatcher's fan-out)
    page_size: int = 500
    sim_rate_limit: float = 60.0
    # The fetch's token bucket over the deployment's (split between the local fetch
    # instances); None keeps terraform's, e.g. when ``tf_variables`` set the tenant's limit.
    client_rate_limit: float | None = 50.0
    # Backfill windows: None plans them as the deployment does (terraform's window_days, one
    # coarse window per entity that splits itself by record count). A number forces
    # windows of that many days, as a plan message may.
    window_days: int | None = None
    # The simulator's clock, which is the pipeline's "now" (stkpi.clock): fixed, so a lab
    # builds the same tenant at any hour; each daily run moves it a day.
    now: datetime = DEFAULT_NOW
    run_timeout: float = 900.0
    # Terraform variables of the lab's deployment over terraform/local.tfvars.json.
    tf_variables: Mapping[str, Any] = field(default_factory=dict)
    # Tenants the simulator serves besides the deployment's default one, registered when
    # the lab starts (as `stkpi tenant add` does: the doctor with their own secrets, their
    # datasets): runs may name them (``tenant_id``), and every comparison covers them.
    tenants: tuple[TenantSpec, ...] = ()


@dataclass(frozen=True)
class Counters:
    """Cumulative counters read at one moment; subtract two to get one scenario's."""

    redeliveries: int
    duplicated: int
    api_faults: int
    api_requests: int

    def __sub__(self, other: Counters) -> Counters:
        return Counters(*(getattr(self, f) - getattr(other, f) for f in self.__dataclass_fields__))


class ChaosLab:
    def __init__(self, root: Path, config: LabConfig | None = None) -> None:
        self.root = Path(root).resolve()
        self.config = config or LabConfig()
        self.crash_file = self.root / "crash-armed"
        self.stack: Stack | None = None
        self.info: StackInfo | None = None
        self.ctx: PipelineContext | None = None
        self.sim: SimAdmin | None = None
        # How far raw is due: the end of every run waited for (stkpi_tools.chaos.compare).
        # Runs end at the simulator's present, so a record it stamps at that instant (an
        # edit of its clock's move, an edit made while the run paged) is the next run's.
        self.horizons: dict[str, CopyHorizon] = {}  # per added tenant (default: horizon)
        self.horizon = CopyHorizon()
        self.tenant_ids: list[str] = []  # every tenant served, the default first
        self._exit = ExitStack()

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> ChaosLab:
        try:
            self.start()
        except BaseException:
            self.stop()  # a half-started lab: stop whatever did start
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        cfg = self.config
        # A fresh landing bucket each time: fake-gcs keeps objects on disk, and a run id
        # reused from an earlier lab would find its old control objects.
        shutil.rmtree(self.root / "stack", ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self.crash_file.write_text("")
        sim_now = cfg.now
        settings_env = {
            "STKPI_CRASH_FILE": str(self.crash_file),
            "ST_PAGE_SIZE": str(cfg.page_size),
        }
        if cfg.window_days is not None:
            settings_env["WINDOW_DAYS"] = str(cfg.window_days)
        if cfg.client_rate_limit is not None:
            settings_env["ST_RATE_LIMIT_PER_SECOND"] = str(cfg.client_rate_limit)
        self.stack = Stack(
            self.root / "stack",
            sim_args={
                "scale": cfg.scale,
                "seed": cfg.seed,
                "now": sim_now.isoformat(),
                "rate_limit": cfg.sim_rate_limit,
            },
            dispatcher_concurrency=cfg.concurrency,
            settings_env=settings_env,
            tf_variables=dict(cfg.tf_variables),
            tenants=cfg.tenants,
        )
        self._exit.callback(self.stack.stop)
        self.info = self.stack.start()
        env = self.info.env()
        self._exit.enter_context(patched_environ(env))
        self.ctx = PipelineContext(load_settings(env))
        self.sim = SimAdmin(env["ST_API_BASE_URL"])
        self._exit.callback(self.sim.close)
        self.tenant_ids = [t["tenant_id"] for t in self.sim.tenants()]
        self._register(cfg.tenants)

    def _register(self, tenants: tuple[TenantSpec, ...]) -> None:
        """Register each added tenant as `stkpi tenant add` does (its doctor with its own
        secrets, then its datasets and its registry row)."""
        import datetime as dt

        from stkpi.secrets import SECRETS_DIR_ENV, SecretReader, directory_accessor
        from stkpi.tenants import Tenant, secret_names
        from stkpi_tools.tenant.add import add_tenant

        if not tenants:  # the stack writes no secrets (ST_SECRETS_DIR) without them
            return
        prefix = str(self.info.tf_variables.get("name_prefix") or "")
        reader = SecretReader(directory_accessor(Path(self.info.env()[SECRETS_DIR_ENV])))
        for spec in tenants:
            names = secret_names(self.info.project, spec.tenant_id, prefix)
            tenant = Tenant(spec.tenant_id, spec.display_name or spec.tenant_id, names,
                            spec.time_zone)  # fmt: skip
            add_tenant(self.ctx.bigquery, self.ctx.settings, tenant, reader,
                       at=dt.datetime.now(dt.UTC), allow_warnings=True)  # fmt: skip
            self.horizons[spec.tenant_id] = CopyHorizon()

    def stop(self) -> None:
        self._exit.close()

    # -- levers --------------------------------------------------------------------------

    def arm(self, *lines: str) -> None:
        """Arm crash points (see ``stkpi.crashpoints``)."""
        with self.crash_file.open("a") as fh:
            fh.write("".join(f"{ln}\n" for ln in lines))

    def armed(self) -> list[str]:
        return [ln for ln in self.crash_file.read_text().splitlines() if ln.strip()]

    def disarm(self) -> None:
        self.crash_file.write_text("")

    def duplicate_deliveries(self, rate: float) -> None:
        url = self.info.url("dispatcher") + "/faults"
        requests.post(url, json={"duplicate_rate": rate}, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        for tenant in self.tenant_ids or [None]:  # every fault of every tenant to its default
            (self.sim.of(tenant) if tenant else self.sim).set_faults(**asdict(FaultConfig()))
        self.duplicate_deliveries(0.0)
        self.disarm()

    # -- runs ----------------------------------------------------------------------------

    def backfill(self, run_id: str, entities: list[str] | None = None, **extra: Any) -> str:
        if entities:
            extra["entities"] = entities
        msg = PlanMessage(
            run_type="backfill",
            start=HISTORY_START,
            end=extra.pop("end", self.sim.now),  # see daily()
            window_days=extra.pop("window_days", self.config.window_days),
            run_id=run_id,
            **extra,
        )
        return self.publish(msg)

    def daily(self, run_id: str, *, advance_hours: float = 24) -> str:
        """Move the simulated clock (new records, edits of old ones), then run daily up to
        the simulator's present: the pipeline's "now" (stkpi.clock), which a plan may not
        pass. A record edited at that instant, while the run pages, lies on the window's
        open end and is the next run's, as an edit made during a real run is."""
        if advance_hours:
            self.sim.advance(advance_hours)
        return self.publish(PlanMessage(run_type="daily", run_id=run_id, end=self.sim.now))

    def publish(self, msg: PlanMessage) -> str:
        self.ctx.bus.publish(self.ctx.settings.topic_plan, msg)
        return msg.run_id

    def wait(
        self, run_id: str, timeout: float | None = None, *, tenant_id: str | None = None
    ) -> None:
        """Wait until ``run_id`` (of ``tenant_id``: default, the deployment's tenant) is
        done; its plan's ends then say how far that tenant's raw is due."""
        ctx = self.ctx.for_tenant(tenant_id)
        wait_for_run(ctx, run_id, timeout=timeout or self.config.run_timeout, show=False)
        doc = ctx.landing.read_json(Landing.plan_name(run_id))
        if doc is not None:
            self.horizon_of(tenant_id).add(RunPlan.from_manifest(doc))

    def horizon_of(self, tenant_id: str | None) -> CopyHorizon:
        return self.horizons.get(str(tenant_id), self.horizon)

    # -- probes --------------------------------------------------------------------------

    def compare(
        self, entities: list[str] | None = None, *, tenant_id: str | None = None
    ) -> list[EntityComparison]:
        """Raw of ``tenant_id`` (default: the deployment's tenant) against the simulator's
        tenant, due up to the end of that tenant's runs waited for so far."""
        sim = self.sim.of(tenant_id) if tenant_id in self.horizons else self.sim
        return compare_raw(
            self.ctx.bigquery, self.ctx.for_tenant(tenant_id).settings, sim.versions,
            entities, self.horizon_of(tenant_id).ends,
        )  # fmt: skip

    def marked_deleted(self, entity: str) -> set[str]:
        """Keys the key scan marked deleted in one raw table."""
        from stkpi import sqlfiles
        from stkpi.registry import get_entity

        ent = get_entity(entity)
        sql = sqlfiles.render(
            "ops/deleted_keys.sql", self.ctx.settings, table=ent.raw_table, key=ent.key[0]
        )
        return {r["k"] for r in self.ctx.bigquery.query_and_wait(sql)}

    def rebuilds(self, run_id: str, tenant_id: str | None = None) -> dict[str, int]:
        """Run events of one run: {'rebuild_started': n, 'rebuilt': n}."""
        state = self.ctx.for_tenant(tenant_id).state
        rows = state.query_file("ops/run_event_counts.sql", run_id=run_id)
        return {r["state"]: int(r["n"]) for r in rows}

    def window_states(self, run_id: str) -> dict[str, int]:
        rows = self.ctx.state.query_file("ops/window_states.sql", run_id=run_id)
        return {r["state"]: int(r["n"]) for r in rows}

    def counters(self) -> Counters:
        disp = requests.get(self.info.url("dispatcher"), timeout=10).json()
        faults = requests_made = 0
        for tenant in self.tenant_ids or [None]:  # every tenant's (the simulator's own count)
            sim = (self.sim.of(tenant) if tenant else self.sim).stats()
            faults += sum(int(sim["counters"].get(k, 0)) for k in API_FAULT_COUNTERS)
            faults += int(sim["server_errors_5xx"])
            requests_made += int(sim["requests"])
        return Counters(
            redeliveries=sum(v for k, v in disp.items() if k.endswith(".failed")),
            duplicated=sum(v for k, v in disp.items() if k.endswith(".duplicated")),
            api_faults=faults,
            api_requests=requests_made,
        )

    def doors(self) -> dict[str, dict[str, int]]:
        """The front doors' counters per function: capacity, admitted, refused_429, peak."""
        return requests.get(self.info.url("front"), timeout=10).json()

    def capacity(self, function: str) -> int:
        """max_instance_count x concurrency of a function, as terraform/ declares it."""
        return int(self.doors()[function]["capacity"])

    def planned_windows(self, run_id: str) -> int:
        plan = self.ctx.landing.read_json(Landing.plan_name(run_id)) or {}
        return len(plan.get("windows", []))

    def split_windows(self, run_id: str) -> int:
        """How many windows of ``run_id`` split themselves by count (``stkpi.splits``)."""
        return len(self.ctx.landing.listing(Landing.control_dir(run_id, "split")))

    def list_dead_letters(self) -> list[DeadLetter]:
        return list_dead_letters(self.ctx.settings)

    def dead_letters(self, *, consume: bool = False) -> dict[str, int]:
        return count_dead_letters(self.ctx.settings, ack=consume)

    def memory(self) -> dict[str, dict[str, int]]:
        """Per function server: current and peak RSS (KiB) of the process that handles the
        deliveries (gunicorn's worker, not the master that forked it)."""
        out = {}
        for name in FUNCTION_SERVICES:
            leader = self.info.pids[name]
            pids = group_pids(leader)
            workers = [p for p in pids if p != leader] or pids
            procs = [m for m in (memory_kib(p) for p in workers) if m]
            out[name] = {
                "rss_kib": max((m["rss"] for m in procs), default=0),
                "peak_kib": max((m["peak"] for m in procs), default=0),
                "processes": len(pids),
            }
        return out

    def functions_alive(self) -> bool:
        alive = self.info.alive()
        return all(alive.get(name) for name in FUNCTION_SERVICES)

    def wait_until(self, predicate, timeout: float, what: str, poll: float = 1.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(poll)
        raise TimeoutError(f"{what}: not true after {timeout:.0f}s")
