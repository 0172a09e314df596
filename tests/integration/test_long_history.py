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
from google.cloud import bigquery
from test_raw_invariant import make_record

from stkpi.context import PipelineContext
from stkpi.gcp import storage_client
from stkpi.key_scan import apply_key_scan
from stkpi.messages import WindowMessage
from stkpi.planner import KEY_SCAN_START, RunPlan
from stkpi.registry import get_entity
from stkpi.rows import to_row
from stkpi.runwindows import RunWindows
from stkpi.warehouse import ensure_tables, raw_schema, staging_table_id
from stkpi_tools.localstack import DEFAULT_PROJECT
from stkpi_tools.localstack.settings_env import local_settings_env, settings_from

pytestmark = pytest.mark.integration

ENTITY = get_entity("customers")
FIRST = dt.date(2013, 1, 1)
DAYS = 4_550  # to 2025-06-16: twelve and a half years, a partition each
SCAN_END = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
INGESTED = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)


def _customers(version: int = 1) -> list[dict]:
    return [
        make_record(ENTITY, i + 1, version, None, FIRST + dt.timedelta(days=i)) for i in range(DAYS)
    ]


@pytest.fixture(scope="module")
def ctx(bq_emulator, gcs_emulator) -> Iterator[PipelineContext]:
    env = {**local_settings_env(DEFAULT_PROJECT), **bq_emulator.service.env()}
    env.update(gcs_emulator.service.env())
    env.update({"BQ_DATASET_PREFIX": "longhist", "LANDING_BUCKET": "longhist-landing"})
    ctx = PipelineContext(settings_from(env))
    storage = storage_client(ctx.settings)
    if storage.lookup_bucket(ctx.settings.landing_bucket) is None:
        storage.create_bucket(ctx.settings.landing_bucket)
    ensure_tables(ctx.bigquery, ctx.settings)
    yield ctx


def _stage(ctx: PipelineContext, run_id: str, windows: list[list[dict]]) -> list[str]:
    ids = []
    for n, records in enumerate(windows, start=1):
        window = f"w{n}"
        table = ctx.warehouse._table("stage", staging_table_id(ENTITY, run_id, window))
        ctx.bigquery.delete_table(table, not_found_ok=True)
        ctx.bigquery.create_table(bigquery.Table(table, schema=raw_schema(ENTITY)))
        rows = [
            to_row(ENTITY, r, run_id=run_id, window_id=window, page=1, ingested_at=INGESTED)
            for r in records
        ]
        for start in range(0, len(rows), 2000):
            assert not ctx.bigquery.insert_rows_json(table, rows[start : start + 2000])
        ids.append(window)
    return ids


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
        max_delete_share=1.0,
    )
    decision = apply_key_scan(RunWindows(plan, {}), ENTITY, scan_windows, ctx)
    assert not decision.guarded, decision.reason
    assert decision.counts.to_mark == len(gone)
    assert _raw(ctx, "deleted_at IS NOT NULL") == len(gone)  # over 4,100 days: in slices
    assert _raw(ctx, "deleted_at IS NULL") == DAYS - len(gone)
    assert _raw(ctx) == DAYS  # one row per key throughout
