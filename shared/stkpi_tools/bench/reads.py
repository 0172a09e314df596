"""Export or list, measured: what each read of ServiceTitan costs at its real limits.

ServiceTitan publishes two ways to read an entity (docs/EXPORTS.md): its list endpoint
(filtered by ``modifiedOn`` window, offset-paged, pages of up to 5,000, parallel by page and
window) and its export (a change feed: every record in ``modifiedOn`` order, active,
inactive and deleted, resumed by a ``continueFrom`` token, one request after the other).
This measures both with the project's own client against the simulator answering as
ServiceTitan does (the ``st`` profile: 60 requests/s, 80 ms + 0.184 ms per record
requested, so about a second for 5,000), for the two jobs the pipeline has:

- **backfill**: every record of every entity. List: each entity's whole history as one
  window, its pages fetched ``in_flight`` at a time across all entities (what the
  deployment's lanes and pages in flight do). Export: one chain per entity, all entities'
  chains side by side.
- **daily**: the day after. List: each entity's window from the last mark minus its
  lookback (7 days, estimates 180: a sale months later moves an estimate), as the planner
  cuts it. Export: each chain resumed from the token the backfill ended on.

Both run on one machine with the simulator, so the wall times include this machine's CPU
(parsing and rendering pages); the requests, the records read and the API-bound time
(the time the API's limits alone would take: requests over the rate limit, or the longest
chain of one-after-the-other answers) are what carry over to Google Cloud. A script, not a
test: it prints the figures and writes them (``bench/reads.json``, ``bench/reads.md``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stkpi.config import Settings
from stkpi.registry import ENTITIES, Entity
from stkpi.servicetitan import ServiceTitanClient
from stkpi_tools.bench.profiles import ST, Profile
from stkpi_tools.localstack.services import start_simulator
from stkpi_tools.results import machine
from stkpi_tools.sim.admin import SimAdmin
from stkpi_tools.sim.config import HISTORY_START

Log = Callable[[str], None]


@dataclass(frozen=True)
class ReadsConfig:
    scale: float = 0.1
    profile: Profile = ST
    # Records an export answer holds. ServiceTitan's docs do not say; 5,000 is its list
    # maximum, and what the measured answer time is charged for.
    export_page_size: int = 5_000
    in_flight: int = 60  # list pages at once: the deployment's 6 lanes x 10 pages
    seed: int = 42


@dataclass
class Read:
    """One way of reading every entity once."""

    requests: int = 0
    records: int = 0
    seconds: float = 0.0
    chains: dict[str, int] | None = None  # export: requests of each entity's chain

    def figures(self, profile: Profile) -> dict[str, Any]:
        # The API alone: the rate limit's time for the requests, or, for chains, the
        # longest chain's answers one after the other, whichever is longer.
        by_rate = self.requests / profile.rate_limit
        longest = max(self.chains.values()) if self.chains else 0
        by_chain = longest * profile.latency_seconds(profile.page_size)
        return {
            "requests": self.requests,
            "records": self.records,
            "seconds": round(self.seconds, 1),
            "api_bound_seconds": round(max(by_rate, by_chain), 1),
            "longest_chain": longest,
        }


def _client(env: dict[str, str], profile: Profile) -> ServiceTitanClient:
    settings = Settings(
        st_api_base_url=env["ST_API_BASE_URL"], st_auth_url=env["ST_AUTH_URL"],
        st_tenant_id=env["ST_TENANT_ID"], st_client_id=env["ST_CLIENT_ID"],
        st_client_secret=env["ST_CLIENT_SECRET"], st_app_key=env["ST_APP_KEY"],
        st_rate_limit_per_second=profile.rate_limit, st_page_size=profile.page_size,
        gcp_project="bench-reads", landing_bucket="bench-reads",
    )  # fmt: skip
    return ServiceTitanClient(settings)


def _windows(now: datetime, since: dict[str, datetime] | None) -> list[tuple[Entity, Any, Any]]:
    """Each entity's list window: the whole history, or since its mark minus lookback."""
    out = []
    for entity in ENTITIES:
        if entity.window_params is None:
            out.append((entity, None, None))
            continue
        start = HISTORY_START if since is None else since[entity.name]
        if since is not None:
            start -= timedelta(days=entity.lookback_days)
        out.append((entity, start, now))
    return out


def read_lists(client: ServiceTitanClient, windows, in_flight: int) -> Read:
    """Every window's first page (its count), then all other pages, ``in_flight`` at once."""
    read = Read()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="list") as pool:
        firsts = list(pool.map(lambda w: (w, client.page(w[0], w[1], w[2], 1)), windows))
        rest = []
        for (entity, start, end), first in firsts:
            read.requests += 1
            read.records += len(first.records)
            if not first.has_more:
                continue
            if first.total_count is None:  # a bare-array list: one page after the other
                rest.append(pool.submit(lambda e=entity, s=start, t=end: list(
                    client.iter_pages(e, s, t, page_from=2))))  # fmt: skip
                continue
            pages = math.ceil(first.total_count / client._settings.st_page_size)
            rest += [pool.submit(lambda e=entity, s=start, t=end, n=n: [client.page(e, s, t, n)])
                     for n in range(2, pages + 1)]  # fmt: skip
        for future in rest:
            pages_read = future.result()
            read.requests += len(pages_read)
            read.records += sum(len(p.records) for p in pages_read)
    read.seconds = time.monotonic() - started
    return read


def read_exports(
    client: ServiceTitanClient, tokens: dict[str, str | None]
) -> tuple[Read, dict[str, str | None]]:
    """Every entity's export chain from its token, all chains side by side."""
    read = Read(chains={})
    ends: dict[str, str | None] = {}
    started = time.monotonic()

    def chain(entity: Entity) -> tuple[str, int, int, str | None]:
        requests = records = 0
        token = tokens.get(entity.name)
        for batch in client.iter_export(entity, token):
            requests += 1
            records += len(batch.records)
            token = batch.continue_from or token
        return entity.name, requests, records, token

    exported = [e for e in ENTITIES if e.export_resource is not None]
    with ThreadPoolExecutor(max_workers=len(exported), thread_name_prefix="export") as pool:
        for name, requests, records, token in pool.map(chain, exported):
            read.requests += requests
            read.records += records
            assert read.chains is not None
            read.chains[name] = requests
            ends[name] = token
    read.seconds = time.monotonic() - started
    return read, ends


def run_reads(root: Path, cfg: ReadsConfig, log: Log = print) -> dict[str, Any]:
    """Backfill and daily, by list and by export, on one simulator started for it."""
    profile = cfg.profile
    sim = start_simulator(
        root, scale=cfg.scale, seed=cfg.seed,
        extra_args={"rate_limit": profile.rate_limit, "latency_ms": profile.latency_ms,
                    "latency_per_record_ms": profile.latency_per_record_ms,
                    "export_page_size": cfg.export_page_size},
    )  # fmt: skip
    try:
        admin = SimAdmin(sim.env_vars["ST_API_BASE_URL"])
        client = _client(sim.env_vars, profile)
        now = admin.now
        log(f"scale {cfg.scale}: {sum(admin.counts().values()):,} records at {now:%Y-%m-%d}")
        backfill_list = read_lists(client, _windows(now, None), cfg.in_flight)
        log(f"backfill by list: {backfill_list.figures(profile)}")
        backfill_export, tokens = read_exports(client, {})
        log(f"backfill by export: {backfill_export.figures(profile)}")
        admin.advance(24)
        later = admin.now
        marks = {e.name: now for e in ENTITIES}
        daily_list = read_lists(client, _windows(later, marks), cfg.in_flight)
        log(f"daily by list: {daily_list.figures(profile)}")
        daily_export, _ = read_exports(client, tokens)
        log(f"daily by export: {daily_export.figures(profile)}")
        per_entity = _per_entity(admin, now, later)
        admin.close()
        client.close()
    finally:
        sim.stop()
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "scale": cfg.scale,
        "profile": profile.label(),
        "export_page_size": cfg.export_page_size,
        "in_flight": cfg.in_flight,
        "backfill": {"list": backfill_list.figures(profile),
                     "export": backfill_export.figures(profile),
                     "export_chains": backfill_export.chains},
        "daily": {"list": daily_list.figures(profile), "export": daily_export.figures(profile),
                  "export_chains": daily_export.chains},
        "entities": per_entity,
    }  # fmt: skip


def _per_entity(admin: SimAdmin, before: datetime, after: datetime) -> dict[str, Any]:
    """Records per entity, and how many a day changed (what a daily read must bring)."""
    counts = admin.counts()
    out = {}
    for entity in ENTITIES:
        versions = admin.versions(entity.name)
        lo, hi = before.timestamp() * 1e6, after.timestamp() * 1e6
        changed = sum(1 for v in versions.values() if v is not None and lo <= v < hi)
        out[entity.name] = {"records": counts[entity.name], "changed_in_a_day": changed}
    return out


def markdown(results: dict[str, Any]) -> str:
    """The results as the table docs/EXPORTS.md shows."""
    lines = [
        f"Scale {results['scale']} ({sum(e['records'] for e in results['entities'].values()):,} "
        f"records), {results['profile']}; export answers of {results['export_page_size']:,} "
        f"records; list pages {results['in_flight']} at once.",
        "",
        "| read | way | requests | records read | API-bound s | longest chain | measured s |",
        "|---|---|---|---|---|---|---|",
    ]
    for job in ("backfill", "daily"):
        for way in ("list", "export"):
            f = results[job][way]
            lines.append(
                f"| {job} | {way} | {f['requests']:,} | {f['records']:,} | "
                f"{f['api_bound_seconds']} | {f['longest_chain'] or '-'} | {f['seconds']} |"
            )
    return "\n".join(lines)


def write(results: dict[str, Any], out: Path) -> list[Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    md = out.with_suffix(".md")
    md.write_text(markdown(results) + "\n")
    return [out, md]
