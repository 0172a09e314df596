"""The fault-injection scenarios, in the order they run on one lab (one tenant, one warehouse).

Each scenario injects its faults, runs the pipeline (a backfill or a daily run) and
returns the run ids it started plus its own checks; ``stkpi_tools.chaos.runner`` adds the checks
every scenario shares: raw equals the simulator key for key, every run rebuilt exactly
once, every armed crash point fired, every function server still serving.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from stkpi.deadletters import list_dead_letters, replay_dead_letters
from stkpi.landing import Landing
from stkpi.messages import PlanMessage, WindowMessage
from stkpi.registry import DELETABLE
from stkpi.status import collect_status
from stkpi_tools.chaos.lab import ChaosLab
from stkpi_tools.sim.config import HISTORY_START, TenantSpec


@dataclass
class Trial:
    """What one scenario did: its runs and the outcome of its own checks."""

    runs: list[str] = field(default_factory=list)
    tenant_runs: list[tuple[str, str]] = field(default_factory=list)  # (added tenant, run)
    checks: list[tuple[str, bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dead_letters_expected: int = 0  # left on purpose (messages that can never succeed)

    def check(self, ok: bool, what: str) -> bool:
        self.checks.append((what, bool(ok)))
        return bool(ok)


@dataclass(frozen=True)
class Scenario:
    name: str
    faults: str  # what is injected, for the table
    run: Callable[[ChaosLab, Trial], None]
    backfills_everything: bool = False  # else the runner backfills the lab first
    # The scenario needs a lab whose deployment serves two added tenants (lab_tenants).
    needs_tenants: bool = False


class RevokeTokensAfter(threading.Thread):
    """Revokes every issued token once the simulator has served ``requests`` more
    requests: mid-run, wherever the run happens to be."""

    def __init__(self, lab: ChaosLab, requests: int) -> None:
        super().__init__(name="revoke-tokens", daemon=True)
        self.lab = lab
        self.target = lab.sim.stats()["requests"] + requests
        self.done = threading.Event()
        self.fired = False

    def run(self) -> None:
        while not self.done.wait(0.5):
            if self.lab.sim.stats()["requests"] >= self.target:
                self.lab.sim.revoke_tokens()
                self.fired = True
                return


def run_revoking_tokens(
    lab: ChaosLab, trial: Trial, start: Callable[[], str], *, after_requests: int
) -> None:
    """Start a run, revoke every token once it is under way, wait for it, clear faults."""
    revoker = RevokeTokensAfter(lab, requests=after_requests)
    revoker.start()
    try:
        run = start()
        trial.runs.append(run)
        lab.wait(run)
    finally:
        revoker.done.set()
        lab.clear_faults()
    trial.check(revoker.fired, "tokens revoked mid-run")


class DeleteAfter(threading.Thread):
    """Hard-deletes ``fraction`` of each deletable transactional entity in the simulator
    once it has served ``requests`` more requests: while a run pages them."""

    def __init__(self, lab: ChaosLab, requests: int, fraction: float) -> None:
        super().__init__(name="delete-records", daemon=True)
        self.lab, self.fraction = lab, fraction
        self.target = lab.sim.stats()["requests"] + requests
        self.done = threading.Event()
        self.deleted: dict[str, list[int]] = {}

    def run(self) -> None:
        while not self.done.wait(0.2):
            if self.lab.sim.stats()["requests"] >= self.target:
                for name in ("estimates", "appointments", "payments", "customers", "locations"):
                    self.deleted[name] = self.lab.sim.delete(name, fraction=self.fraction)
                return


def deletes(lab: ChaosLab, trial: Trial) -> None:
    """Records hard-deleted while a daily run pages, then the weekly key scan: the keys
    that still exist are copied exactly (the common check), and the scan marks exactly
    the deleted records raw holds (some deleted before any run fetched them never
    reached raw)."""
    deleter = DeleteAfter(lab, requests=5, fraction=0.01)  # 1%: under the 2% guard
    deleter.start()
    try:
        trial.runs.append(lab.daily("chaos-daily-deletes"))
        lab.wait("chaos-daily-deletes")
    finally:
        deleter.done.set()
        deleter.join(timeout=30)
    trial.check(bool(deleter.deleted), "records deleted while the daily run paged")
    scan = PlanMessage(
        run_type="deletes",
        start=HISTORY_START,
        end=lab.sim.now,  # the simulator's present, see lab.daily
        window_days=3660,
        run_id="chaos-key-scan",
    )
    trial.runs.append(lab.publish(scan))
    lab.wait("chaos-key-scan")
    marked = deleted = 0
    for name in DELETABLE:
        gone = {str(k) for k in lab.sim.deleted(name)}
        keys = lab.marked_deleted(name)
        trial.check(
            keys <= gone, f"{name}: every mark is a deleted record ({len(keys - gone)} not)"
        )
        marked, deleted = marked + len(keys), deleted + len(gone)
    trial.check(marked > 0, f"the scan marked {marked} of {deleted} deleted records")
    scans = {s["entity"]: s for s in collect_status(lab.ctx)["scans"]}
    guarded = sorted(e for e, s in scans.items() if s.get("guarded"))
    trial.check(not guarded, f"no scan stopped by its guard ({guarded})")
    trial.notes.append(f"marked {marked} of {deleted} deleted (the rest never reached raw)")


def api_faults(lab: ChaosLab, trial: Trial) -> None:
    lab.sim.set_faults(
        error_rate=0.05, burst_429=40, latency_ms=500,
        # more damaged copies of one page than the client retries: the window fails
        truncate_pages=2, malformed_pages=2, fault_entity="jobs", fault_page=2,
        damage_same_request=True,
    )  # fmt: skip
    run_revoking_tokens(lab, trial, lambda: lab.backfill("chaos-backfill"), after_requests=150)
    failed = lab.window_states("chaos-backfill").get("failed", 0)
    trial.check(failed >= 1, f"damaged pages failed their window loudly ({failed} recorded)")


def sigkill(lab: ChaosLab, trial: Trial) -> None:
    lab.arm(
        "kill fetch.after_page page=2",  # fetch while paging
        "kill load.after_load_job",  # load between load job and MERGE
        "kill load.after_merge",  # load between MERGE and marker
        "kill rebuild.after_models",  # rebuild half done
    )
    trial.runs.append(lab.daily("chaos-daily-kill"))
    lab.wait("chaos-daily-kill")
    trial.check(not lab.armed(), "every armed SIGKILL fired")
    starts = lab.rebuilds("chaos-daily-kill").get("rebuild_started", 0)
    trial.check(starts >= 2, f"the killed rebuild started again ({starts} starts)")


def duplicates(lab: ChaosLab, trial: Trial) -> None:
    lab.duplicate_deliveries(1.0)
    try:
        trial.runs.append(lab.daily("chaos-daily-dup"))
        lab.wait("chaos-daily-dup")
    finally:
        lab.clear_faults()
    starts = lab.rebuilds("chaos-daily-dup").get("rebuild_started", 0)
    trial.check(starts == 1, f"duplicate rebuild messages started one rebuild ({starts})")
    reused = lab.ctx.state.query_file("ops/reused_load_jobs.sql", run_id="chaos-daily-dup")
    n = int(reused[0]["n"])
    trial.check(n > 0, f"twin loads met the same load job and MERGEd together ({n})")


def edits(lab: ChaosLab, trial: Trial) -> None:
    lab.sim.set_faults(edit_after_page=2, edit_count=50, edit_entity="jobs")
    try:
        # One window over the whole history, ending at the simulator's now: edited records
        # (modifiedOn = now) leave it while it is paged, shifting the later pages.
        run = lab.backfill("chaos-edits", ["jobs"], window_days=3600, end=lab.sim.now)
        trial.runs.append(run)
        lab.wait("chaos-edits")
    finally:
        lab.clear_faults()
    passes = lab.ctx.state.query_file("ops/window_passes.sql", run_id="chaos-edits")
    n = int(passes[0]["max_passes"] or 0)
    trial.check(n >= 2, f"the window changed while paged was read again ({n} passes)")
    # Edited records now carry modifiedOn = now: the next daily run picks them up.
    trial.runs.append(lab.daily("chaos-daily-after-edits", advance_hours=1))
    lab.wait("chaos-daily-after-edits")


def poison(lab: ChaosLab, trial: Trial) -> None:
    bus, topic = lab.ctx.bus, lab.ctx.settings.topic_windows
    bus.publish_raw(topic, b"{not json")
    bus.publish_raw(
        topic,
        b'{"v":1,"run_id":"chaos-poison","entity":"jobz","window_id":"w",'
        b'"start":"2025-01-01T00:00:00Z","end":"2025-01-02T00:00:00Z"}',
    )
    reversed_window = WindowMessage.model_construct(
        v=1, run_id="chaos-poison", entity="jobs", window_id="w",
        start=lab.sim.now, end=lab.sim.now.replace(year=2020),
        page_from=1, pass_no=1, pass_count=None, page_offset=0,
    )  # fmt: skip
    bus.publish_raw(topic, reversed_window.model_dump_json().encode())
    trial.dead_letters_expected = 3
    # A window that fails on every attempt: campaigns pages are always malformed.
    lab.sim.set_faults(malformed_pages=1_000_000, fault_entity="campaigns")
    run = lab.daily("chaos-daily-poison")
    trial.runs.append(run)
    lab.wait_until(lambda: sum(lab.dead_letters().values()) >= 4, 240, "4 dead letters", poll=2)
    status = collect_status(lab.ctx)
    shown = sum(status["dead_letters"].values())
    trial.check(shown >= 4, f"stkpi status shows the dead letters ({shown})")
    row = next((r for r in status["runs"] if r["run_id"] == run), {})
    trial.check(not row.get("rebuilt_at"), "the run waits, unrebuilt, for its dead window")
    from stkpi.validation.runner import run_validations

    checks = run_validations(
        lab.ctx.bigquery, lab.ctx.settings, now=lab.ctx.tenant_now(), wall_now=lab.ctx.now(),
        run_id=run, store=False,
        dead_letters=lambda: lab.dead_letters(),
    )  # fmt: skip
    verdict = {c.name: c.status for c in checks}
    trial.check(
        verdict.get("pipeline.dead_letters") == "RED",
        f"stkpi validate flags them (pipeline.dead_letters {verdict.get('pipeline.dead_letters')})",
    )
    kinds = sorted(
        "permanent" if d.permanent else "exhausted" for d in list_dead_letters(lab.ctx.settings)
    )
    trial.notes.append(f"dead letters: {kinds}")
    # The API is fixed; the operator replays: the run finishes, rebuilt once.
    lab.clear_faults()
    replayed, kept = replay_dead_letters(lab.ctx.settings)
    trial.check(len(replayed) == 1, f"one retryable dead letter replayed ({len(replayed)})")
    trial.check(len(kept) == 3, f"the three that can never succeed stay ({len(kept)})")
    lab.wait(run)


def beyond_capacity(lab: ChaosLab, trial: Trial) -> None:
    """A backfill of 20x more windows than fetch_window may run at once (terraform's
    max_instance_count x concurrency): without lanes most windows would bounce off the
    front door with 429 until Pub/Sub dead-lettered them."""
    capacity = lab.capacity("fetch_window")
    before = lab.doors()
    run = lab.backfill("chaos-beyond-capacity", ["jobs", "invoices"], window_days=20)
    trial.runs.append(run)
    lab.wait(run)
    after = lab.doors()
    planned = lab.planned_windows(run)
    trial.check(
        planned >= 20 * capacity,
        f"{planned} windows for {capacity} fetch instances ({planned / capacity:.0f}x)",
    )
    for fn in ("fetch_window", "load_batch"):
        refused = after[fn].get("refused_429", 0) - before[fn].get("refused_429", 0)
        trial.check(refused == 0, f"{fn} never refused a delivery ({refused} x 429)")
        peak, cap = after[fn].get("peak_in_flight", 0), after[fn]["capacity"]
        trial.check(peak <= cap, f"{fn} at most {cap} deliveries at once (peak {peak})")


def split_crash(lab: ChaosLab, trial: Trial) -> None:
    """A backfill of one coarse window per entity, sized by count: every big window splits
    itself, and the first to do so is killed right after recording its children, before it
    hands them its lane. Its redelivery must find the record and hand on the same children
    (not split again), and the run must still load every leaf and rebuild once."""
    lab.arm("kill fetch.after_split_record")
    run = lab.backfill("chaos-split-crash", ["jobs", "invoices", "payments"], window_days=3660)
    trial.runs.append(run)
    lab.wait(run)
    splits = lab.split_windows(run)
    trial.check(splits >= 3, f"{splits} windows split themselves by count")
    planned = lab.planned_windows(run)
    trial.check(planned == 3, f"the plan had one coarse window per entity ({planned})")


# The records a hostile API damages, each in its own way (stkpi_tools.sim.hostile).
HOSTILE_RECORDS = (
    ("customers", "surrogate"),
    ("jobs", "huge_int"),
    ("invoices", "huge_number"),
    ("estimates", "future"),
)


def hostile(lab: ChaosLab, trial: Trial) -> None:
    """A daily run against a hostile API: redirects to another host, a token with a line
    break in it (every token is revoked first, so the next one issued is it), records
    BigQuery cannot hold (a lone surrogate, an integer beyond 64 bits, a number beyond a
    double, a modifiedOn in 2099), all in the export feeds daily runs read; then, as the
    faults of offset paging hit only lists, a backfill of those records' entities
    (backfills page the lists, docs/EXPORTS.md): the bad records again, and jobs pages
    short of their count, with a record repeated in place of another, or hasMore false
    too soon. Nothing may be lost or doubled: every
    short read is read again, every bad record is quarantined and named while the run and
    every other record go on (rebuilt once, every high-water mark moved); once the records
    are fixed, the replay copies them and raw equals the simulator (the common check)."""
    from stkpi.quarantine import open_records, replay_plans
    from stkpi.runwindows import stored_plan
    from stkpi.validation.config import ValidationConfig
    from stkpi.validation.context import Context

    # Edited an hour before the run's end, inside its window: a record stamped at the
    # simulator's present would lie on the window's open end, the next run's (lab.daily).
    lab.sim.advance(23)
    bad = {(e, lab.sim.edit(e, 1)[0]): kind for e, kind in HOSTILE_RECORDS}
    lab.sim.set_faults(
        hostile_entity="jobs", short_pages=2, repeat_pages=2, early_end_pages=1,
        redirect_requests=3, newline_tokens=1, revoke_tokens=True,
        bad_records=[f"{e}/{i}/{k}" for (e, i), k in bad.items()],
    )  # fmt: skip
    try:
        run = lab.daily("chaos-daily-hostile", advance_hours=1)  # the feeds
        trial.runs.append(run)
        lab.wait(run)
        # A backfill of the bad records' entities pages their lists, where a hostile API's
        # short, repeated and early-ended pages come, and meets the bad records there too.
        pages = lab.backfill("chaos-hostile", [e for e, _ in HOSTILE_RECORDS])
        trial.runs.append(pages)
        lab.wait(pages)
        counters = lab.sim.stats()["counters"]
    finally:
        lab.clear_faults()
    served = {k: counters.get(f"hostile_{k}", 0) for k in ("short", "repeat", "early_end")}
    trial.check(all(served.values()), f"short, repeated and early-ended pages served {served}")
    trial.check(
        counters.get("newline_tokens", 0) == 1,
        "a token with a line break was issued (never sent: the run went on)",
    )
    leaked = counters.get("redirect_credentials_leaked", 0)
    trial.check(
        counters.get("redirects", 0) == 3 and not leaked,
        f"3 redirects, not followed ({leaked} credentials reached the other host)",
    )
    ctx = lab.ctx
    now = ctx.now()  # the machine's: when records were quarantined
    query = Context(ctx.bigquery, ctx.settings, now, ValidationConfig()).query
    waiting = open_records(query, now)
    named = {(r.entity, int(r.record_key or 0)) for r in waiting}
    trial.check(named == set(bad), f"every bad record quarantined and named ({len(named)})")
    plan = stored_plan(run, ctx.landing)
    marks = ctx.state.high_water_marks()
    stale = sorted(e for e, end in plan.entity_ends.items() if e in marks and marks[e] < end)
    trial.check(not stale, f"every entity's mark moved: other KPIs fresh (stale: {stale})")
    # Fixed in ServiceTitan: the operator replays (a run per entity, side by side), up to
    # the tenant's present (a plan may not pass it); the common check then finds raw whole.
    replays = replay_plans(waiting, ctx.tenant_now(), lambda n: f"chaos-hostile-replay-{n}")
    trial.runs += [lab.publish(replay) for replay in replays]
    for replay in replays:
        lab.wait(str(replay.run_id))
    trial.check(not open_records(query, ctx.now()), "nothing quarantined after the replay")


def one_tenant_of_three(lab: ChaosLab, trial: Trial) -> None:
    """Three tenants' runs at once in one deployment, one of them (the first added) hit:
    its fetch SIGKILLed after a page and one of its windows failing every attempt until
    it is dead-lettered. The other two finish and rebuild once, untouched, while it waits
    unrebuilt; the API fixed and the dead letter replayed, it finishes, rebuilt once. The
    common check then finds every tenant's raw equal to its simulator: nothing lost or
    doubled in any of the three."""
    hit, other = lab.tenant_ids[1], lab.tenant_ids[2]
    # the added tenants' first runs: their whole history (the lab backfilled its own)
    first = [(t, lab.backfill(f"chaos-tenants-backfill-t{t}", tenant_id=t)) for t in (hit, other)]
    for tenant, run in first:
        lab.wait(run, tenant_id=tenant)
    trial.tenant_runs += first
    lab.sim.of(hit).set_faults(malformed_pages=1_000_000, fault_entity="campaigns")
    lab.arm(f"kill fetch.after_page page=1 tenant={hit}")
    lab.sim.advance(24)
    end = lab.sim.now
    runs = {t: f"chaos-tenants-daily-t{t}" for t in lab.tenant_ids}
    for tenant, run in runs.items():
        added = None if tenant == lab.tenant_ids[0] else tenant
        lab.publish(PlanMessage(run_type="daily", run_id=run, end=end, tenant_id=added))
    trial.runs.append(runs[lab.tenant_ids[0]])
    trial.tenant_runs += [(t, runs[t]) for t in (hit, other)]
    try:
        lab.wait(runs[lab.tenant_ids[0]])
        lab.wait(runs[other], tenant_id=other)
        lab.wait_until(lambda: sum(lab.dead_letters().values()) >= 1, 240, "a dead letter", poll=2)
        letters = lab.list_dead_letters()
        whose = sorted({str(d.tenant_id) for d in letters})
        trial.check(whose == [hit], f"the dead letter is tenant {hit}'s only ({whose})")
        trial.check(not lab.armed(), f"tenant {hit}'s fetch was killed mid-run")
        hit_ctx = lab.ctx.for_tenant(hit)
        waiting = not hit_ctx.landing.exists(Landing.rebuild_done_name(runs[hit]))
        trial.check(waiting, f"tenant {hit}'s run waits, unrebuilt, for its dead window")
        for tenant in (lab.tenant_ids[0], other):
            n = lab.rebuilds(runs[tenant], None if tenant == lab.tenant_ids[0] else tenant)
            trial.check(n.get("rebuilt") == 1, f"tenant {tenant} rebuilt once meanwhile ({n})")
    finally:
        lab.clear_faults()
    replayed, kept = replay_dead_letters(lab.ctx.settings)
    trial.check(len(replayed) == 1 and not kept, f"its dead letter replayed ({len(replayed)})")
    lab.wait(runs[hit], tenant_id=hit)


def combined(lab: ChaosLab, trial: Trial) -> None:
    lab.sim.set_faults(
        error_rate=0.05, burst_429=20, latency_ms=300,
        edit_after_page=1, edit_count=20, edit_entity="estimates",
    )  # fmt: skip
    lab.duplicate_deliveries(0.3)
    lab.arm("kill fetch.after_page page=2", "kill load.after_merge", "load.after_marker")
    run_revoking_tokens(lab, trial, lambda: lab.daily("chaos-daily-all"), after_requests=40)
    trial.runs.append(lab.daily("chaos-daily-calm", advance_hours=1))
    lab.wait("chaos-daily-calm")


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "backfill under API faults",
        "5% 5xx, 40x429 (Retry-After), 500 ms latency, tokens revoked, 4 damaged copies of a page",
        api_faults,
        backfills_everything=True,
    ),
    Scenario(
        "SIGKILL mid-step",
        "fetch paging p2, load job->MERGE, MERGE->marker, rebuild half done",
        sigkill,
    ),
    Scenario("duplicate delivery", "every message delivered twice at once", duplicates),
    Scenario("edits while paging", "50 jobs edited after page 2 of a 45-page window", edits),
    Scenario(
        "never-succeeding messages",
        "bad JSON, unknown entity, reversed window; a window failing every attempt",
        poison,
    ),
    Scenario(
        "backfill far beyond function capacity",
        "20x more windows than fetch_window's capacity (20-day windows since 2019)",
        beyond_capacity,
    ),
    Scenario(
        "crash while a window splits",
        "SIGKILL after a window recorded its split, before its children were handed on",
        split_crash,
    ),
    Scenario(
        "deletes during a daily run",
        "1% of estimates, appointments, payments, customers, locations hard-deleted "
        "while a daily run pages; then the key scan",
        deletes,
    ),
    Scenario(
        "hostile API",
        "short pages with a stable count, repeated and skipped rows, hasMore false too soon, "
        "3 redirects, a token with a line break; a lone surrogate, an integer beyond 64 "
        "bits, a number beyond a double, a modifiedOn in 2099",
        hostile,
    ),
    Scenario(
        "one tenant of three",
        "three tenants' daily runs at once; one tenant's fetch SIGKILLed after a page and "
        "one of its windows failing every attempt (dead-lettered, then replayed)",
        one_tenant_of_three,
        needs_tenants=True,
    ),
    Scenario(
        "all at once",
        "5xx, 429, latency, revocation, 30% duplicates, SIGKILLs, edits while paging",
        combined,
    ),
)


def lab_tenants(scale: float) -> tuple[TenantSpec, ...]:
    """The two tenants a lab adds for the scenarios that need them: smaller than the lab's
    own (0.6x and 0.2x its scale), one in another time zone, seeds of their own."""
    return (
        TenantSpec("2000", seed=7, scale=round(scale * 0.6, 6), time_zone="America/Los_Angeles",
                   display_name="Silver State Painting"),
        TenantSpec("3000", seed=11, scale=round(scale * 0.2, 6),
                   display_name="Old Pueblo Painting"),
    )  # fmt: skip


def by_name(names: list[str] | None) -> list[Scenario]:
    if not names:
        return list(SCENARIOS)
    known = {s.name: s for s in SCENARIOS}
    slugs = {slug(s.name): s for s in SCENARIOS}
    chosen = []
    for name in names:
        found = known.get(name) or slugs.get(slug(name))
        if found is None:
            raise ValueError(
                f"unknown scenario {name!r}; known: {', '.join(slug(s.name) for s in SCENARIOS)}"
            )
        chosen.append(found)
    return chosen


def slug(name: str) -> str:
    return "-".join(name.lower().replace("-", " ").split())
