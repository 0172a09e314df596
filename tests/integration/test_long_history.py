"""A tenant with twelve and a half years of history stays inside BigQuery's limits.

BigQuery refuses a statement that writes more than 4,000 partitions; the local BigQuery
refuses it too (stkpi_tools.localstack.bq_limits). Raw customers are partitioned by day of
``createdOn``, and this tenant has a customer created every day from 2013-01-01: 4,550
days. Its backfill, its weekly key scan (every record read again, a few edited) and a mass
delete the operator allowed each used to be one statement writing every one of those
partitions, and would fail every time (the key scan every week: 5 attempts, a dead
letter, no rebuild). Now the MERGE is cut into slices of days (stkpi.merge_slices) and
writes only rows whose version changed, and marks are cut by day when they are many.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from pipeline_harness import stage_records, warehouse_context
from test_raw_invariant import make_record

from stkpi.context import PipelineContext
from stkpi.key_scan import apply_key_scan
from stkpi.messages import WindowMessage
from stkpi.planner import KEY_SCAN_START, RunPlan
from stkpi.registry import get_entity
from stkpi.runwindows import RunWindows
from stkpi_tools.runs import allow_deletes

pytestmark = pytest.mark.integration

ENTITY = get_entity("customers")
FIRST = dt.date(2013, 1, 1)
DAYS = 4_550  # to 2025-06-16: twelve and a half years, a partition each
SCAN_END = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)


def _customers(version: int = 1) -> list[dict]:
    return [
        make_record(ENTITY, i + 1, version, None, FIRST + dt.timedelta(days=i)) for i in range(DAYS)
    ]


@pytest.fixture(scope="module")
def ctx(bq_emulator, gcs_emulator) -> Iterator[PipelineContext]:
    yield warehouse_context(bq_emulator, gcs_emulator, "longhist")


def _stage(ctx: PipelineContext, run_id: str, windows: list[list[dict]]) -> list[str]:
    return stage_records(ctx, ENTITY.name, run_id, windows)


def _raw(ctx: PipelineContext, where: str = "TRUE") -> int:
    s = ctx.settings
    sql = f"SELECT COUNT(*) AS n FROM `{s.gcp_project}.{s.dataset('raw')}.customers` WHERE {where}"
    return int(next(iter(ctx.bigquery.query_and_wait(sql)))["n"])


def test_twelve_years_backfill_key_scan_and_mass_delete_stay_inside_the_limits(
    ctx: PipelineContext,
) -> None:
    customers = _customers()
    thirds = [customers[i::3] for i in range(3)]  # three windows, every day in each
    windows = _stage(ctx, "lh-backfill", thirds)
    assert ctx.warehouse.merge(ENTITY, run_id="lh-backfill", window_ids=windows) == DAYS
    assert _raw(ctx) == DAYS

    # The weekly key scan reads every customer again; five were edited since. Only those
    # five rows are written (an unchanged row keeps its partition untouched), and 4,100
    # customers are gone: a mass delete, allowed by the operator for this scan.
    gone = set(range(1, 4_101))
    again = [dict(r) for r in customers if r["id"] not in gone]
    for record in again[:5]:
        record.update(make_record(ENTITY, record["id"], 2, None, None))
        record["createdOn"] = customers[record["id"] - 1]["createdOn"]
    scan_windows = _stage(ctx, "lh-scan", [again])
    assert ctx.warehouse.merge(ENTITY, run_id="lh-scan", window_ids=scan_windows) == 5
    window = WindowMessage(
        run_id="lh-scan",
        entity=ENTITY.name,
        window_id=scan_windows[0],
        start=KEY_SCAN_START,
        end=SCAN_END,
        scan=True,
    )
    plan = RunPlan(
        run_id="lh-scan",
        run_type="deletes",
        start=KEY_SCAN_START,
        end=SCAN_END,
        windows=(window,),
    )
    allow_deletes(ctx, [ENTITY.name], 1.0, 1, "test: a mass delete")  # the operator's grant
    decision = apply_key_scan(RunWindows(plan, {}), ENTITY, scan_windows, ctx)
    assert not decision.guarded, decision.reason
    assert decision.counts.to_mark == len(gone)
    assert _raw(ctx, "deleted_at IS NOT NULL") == len(gone)  # over 4,100 days: in slices
    assert _raw(ctx, "deleted_at IS NULL") == DAYS - len(gone)
    assert _raw(ctx) == DAYS  # one row per key throughout
