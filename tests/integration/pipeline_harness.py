"""A pipeline on the local emulators, driven in-process, and the checks tests make of it.

Raw tables are compared with the simulator's own records, key for key: the simulator is
the source of truth, not an expected number written in a test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stkpi.context import PipelineContext
from stkpi.landing import Landing
from stkpi.messages import PlanMessage
from stkpi.registry import get_entity
from stkpi.rows import to_row
from stkpi.windows import parse_ts
from stkpi_tools.chaos.compare import compare_raw
from stkpi_tools.pump import InProcessPump


@dataclass
class Pipeline:
    ctx: PipelineContext
    pump: InProcessPump
    sim: Any  # stkpi_tools.sim handle

    def run(self, msg: PlanMessage, *, timeout: float = 600.0) -> str:
        """Publish ``msg`` to the plan topic, as the scheduler or the CLI does, and deliver
        messages until its run is rebuilt; returns the run id."""
        assert msg.run_id, "tests name their runs"
        self.ctx.bus.publish(self.ctx.settings.topic_plan, msg)
        done = Landing.rebuild_done_name(msg.run_id)
        self.pump.run_until(lambda: self.ctx.landing.exists(done), timeout=timeout)
        return msg.run_id


def assert_raw_matches_simulator(pipe: Pipeline, entities: list[str] | None = None) -> None:
    """Raw == simulator for each entity: same keys, latest version, no duplicate keys."""
    results = compare_raw(pipe.ctx.bigquery, pipe.ctx.settings, pipe.sim.versions, entities)
    bad = [r.describe() for r in results if not r.ok]
    assert not bad, "raw differs from the simulator:\n" + "\n".join(bad)


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
