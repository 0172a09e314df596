"""A pipeline on the local emulators, driven in-process, and the checks tests make of it.

Raw tables are compared with the simulator's own records, key for key: the simulator is
the source of truth, not an expected number written in a test.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.cloud import bigquery

from stkpi.context import PipelineContext
from stkpi.landing import Landing
from stkpi.messages import PlanMessage
from stkpi.pump import InProcessPump
from stkpi.registry import ENTITIES, Entity, get_entity, record_key
from stkpi.rows import to_row
from stkpi.windows import parse_ts


@dataclass
class Pipeline:
    ctx: PipelineContext
    pump: InProcessPump
    sim: Any  # stkpi.sim handle

    def run(self, msg: PlanMessage, *, timeout: float = 600.0) -> str:
        """Publish ``msg`` to the plan topic, as the scheduler or the CLI does, and deliver
        messages until its run is rebuilt; returns the run id."""
        assert msg.run_id, "tests name their runs"
        self.ctx.bus.publish(self.ctx.settings.topic_plan, msg)
        done = Landing.rebuild_done_name(msg.run_id)
        self.pump.run_until(lambda: self.ctx.landing.exists(done), timeout=timeout)
        return msg.run_id


def raw_versions(client: bigquery.Client, ctx: PipelineContext, entity: Entity) -> Counter:
    """(key, modified_on) -> number of rows holding it, for one raw table."""
    table = f"`{ctx.settings.gcp_project}.{ctx.settings.dataset('raw')}.{entity.raw_table}`"
    key = entity.key[0]
    rows = client.query(f"SELECT CAST({key} AS STRING) AS k, modified_on FROM {table}").result()
    return Counter((r["k"], _ts(r["modified_on"])) for r in rows)


def sim_versions(sim: Any, entity: Entity) -> Counter:
    """(key, modified_on) of every record the simulator currently serves for ``entity``."""
    out: Counter = Counter()
    for record in sim.snapshot(entity.name):
        out[(record_key(entity, record), _ts(record.get("modifiedOn")))] += 1
    return out


def _ts(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return parse_ts(str(value)).isoformat()


def assert_raw_matches_simulator(pipe: Pipeline, entities: list[str] | None = None) -> None:
    """Raw == simulator for each entity: same keys, latest version, no duplicate keys."""
    client = pipe.ctx.bigquery
    for entity in [get_entity(n) for n in entities] if entities else ENTITIES:
        raw = raw_versions(client, pipe.ctx, entity)
        expected = sim_versions(pipe.sim, entity)
        dup_keys = [k for k, n in Counter(k for k, _ in raw.elements()).items() if n > 1]
        assert not dup_keys, f"{entity.name}: duplicate keys in raw: {dup_keys[:5]}"
        missing = set(expected) - set(raw)
        extra = set(raw) - set(expected)
        assert not missing and not extra, (
            f"{entity.name}: raw differs from the simulator: "
            f"{len(missing)} missing/outdated e.g. {sorted(missing)[:3]}, "
            f"{len(extra)} unexpected e.g. {sorted(extra)[:3]}"
        )


def rebuilds(pipe: Pipeline, run_id: str) -> int:
    rows = pipe.ctx.state.query_file("ops/rebuilt_count.sql", run_id=run_id)
    return int(rows[0]["n"])


def row_for(entity_name: str, record: dict) -> dict:
    """A raw row as the fetch would write it (for tests that stage rows by hand)."""
    return to_row(
        get_entity(entity_name),
        record,
        run_id="test",
        window_id="test",
        page=1,
        ingested_at=parse_ts("2025-01-01T00:00:00Z"),
    )


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=str, sort_keys=True)
