"""The key scan's guard over time, and scans that do not add up (stkpi.key_scan).

On the local BigQuery and Cloud Storage, with the scan's staging tables and window
manifests made by hand and ``apply_key_scan`` called as the entity's MERGE calls it:

- the guard judges the scans of its rolling period per entity: two scans each marking 1.5%
  of payments are 3% together and the second marks nothing (it reset every scan, so an API
  losing 1.5% of an entity a week emptied it in a year);
- only the operator's allowance (``stkpi deletes --allow-share``) lets the second through;
- a scan whose windows read fewer keys than ServiceTitan counted marks nothing;
- a record the scan quarantined was read: it is not marked deleted.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pipeline_harness import stage_records, warehouse_context
from test_raw_invariant import make_record

from stkpi.context import PipelineContext
from stkpi.key_scan import apply_key_scan
from stkpi.landing import Landing, window_prefix
from stkpi.messages import WindowMessage
from stkpi.planner import KEY_SCAN_START, RunPlan
from stkpi.registry import get_entity
from stkpi.runwindows import RunWindows
from stkpi_tools.runs import allow_deletes

pytestmark = pytest.mark.integration

ENTITY = get_entity("payments")
N = 1_000
FIRST = dt.date(2024, 1, 1)


@pytest.fixture
def ctx(bq_emulator, gcs_emulator, request) -> PipelineContext:
    prefix = f"ksg{abs(hash(request.node.name)) % 10_000}"
    ctx = warehouse_context(bq_emulator, gcs_emulator, prefix)
    raw = f"{ctx.settings.gcp_project}.{ctx.settings.dataset('raw')}.{ENTITY.raw_table}"
    ctx.bigquery.query_and_wait(f"DELETE FROM `{raw}` WHERE TRUE")
    ctx.bigquery.query_and_wait(
        f"DELETE FROM `{ctx.warehouse._table('ops', 'delete_allowances')}` WHERE TRUE"
    )
    windows = stage_records(ctx, ENTITY.name, "ksg-load", [_payments(range(1, N + 1))])
    ctx.warehouse.merge(ENTITY, run_id="ksg-load", window_ids=windows)
    return ctx


def _payments(ids) -> list[dict]:
    return [make_record(ENTITY, i, 1, None, FIRST + dt.timedelta(days=i % 300)) for i in ids]


def _scan(
    ctx: PipelineContext,
    run_id: str,
    present: range | list[int],
    *,
    counted: int | None = None,
    quarantined: list[int] = (),  # type: ignore[assignment]
    end: dt.datetime,
):
    """Stage the keys a scan read (``present``), write its window's manifest with the
    count ServiceTitan gave (and the keys it quarantined), and apply the scan."""
    windows = stage_records(ctx, ENTITY.name, run_id, [_payments(present)])
    window = WindowMessage(run_id=run_id, entity=ENTITY.name, window_id=windows[0],
                           start=KEY_SCAN_START, end=end, scan=True)  # fmt: skip
    if counted is not None:
        name = Landing.manifest_name(window_prefix(ENTITY.name, run_id, windows[0]))
        ctx.landing.write_json(
            name, {"count": counted, "quarantined_keys": [str(k) for k in quarantined]}
        )
    plan = RunPlan(run_id=run_id, run_type="deletes", start=KEY_SCAN_START, end=end,
                   windows=(window,))  # fmt: skip
    return apply_key_scan(RunWindows(plan, {}), ENTITY, windows, ctx)


def _marked(ctx: PipelineContext) -> int:
    raw = f"{ctx.settings.gcp_project}.{ctx.settings.dataset('raw')}.{ENTITY.raw_table}"
    rows = ctx.bigquery.query_and_wait(f"SELECT COUNTIF(deleted_at IS NOT NULL) AS n FROM `{raw}`")
    return int(next(iter(rows))["n"])


def test_the_guard_adds_up_a_period_of_scans_and_only_the_operator_raises_it(
    ctx: PipelineContext,
) -> None:
    week1 = dt.datetime(2025, 9, 1, tzinfo=dt.UTC)
    first = _scan(ctx, "ksg-w1", range(16, N + 1), end=week1)  # 15 gone: 1.5%
    assert not first.guarded and _marked(ctx) == 15
    week2 = week1 + dt.timedelta(days=7)
    second = _scan(ctx, "ksg-w2", range(31, N + 1), end=week2)  # 15 more: 3.0% in 8 days
    assert second.guarded and _marked(ctx) == 15
    assert second.counts.recently_marked == 15
    assert "with the 15 marked in the last 30 days" in second.reason
    assert "--allow-share 0.04" in second.reason
    # The operator looked: the deletes are real. Their allowance lets the next scan through.
    allow_deletes(ctx, [ENTITY.name], 0.04, 1, "payments voided in bulk, confirmed")
    third = _scan(ctx, "ksg-w2-allowed", range(31, N + 1), end=week2)
    assert not third.guarded and _marked(ctx) == 30
    # Outside the period, the first week's marks no longer count.
    later = week1 + dt.timedelta(days=35)
    fourth = _scan(ctx, "ksg-later", range(41, N + 1), end=later)
    assert fourth.counts.recently_marked == 15  # the second week's 15, not the first's


def test_a_scan_that_does_not_add_up_marks_nothing(ctx: PipelineContext) -> None:
    # ServiceTitan counted all 1,000 payments in the window; 980 keys were staged.
    end = dt.datetime(2025, 9, 1, tzinfo=dt.UTC)
    decision = _scan(ctx, "ksg-short", range(21, N + 1), counted=N, end=end)
    assert decision.guarded and _marked(ctx) == 0
    assert "read 980 keys where ServiceTitan counted 1000" in decision.reason


def test_a_record_the_scan_quarantined_is_not_marked_deleted(ctx: PipelineContext) -> None:
    # Payment 7 was read but quarantined (not staged): it exists, it is not a delete.
    end = dt.datetime(2025, 9, 1, tzinfo=dt.UTC)
    present = [i for i in range(1, N + 1) if i not in (7, 8)]  # 8 is really gone
    decision = _scan(ctx, "ksg-held", present, counted=N - 1, quarantined=[7], end=end)
    assert not decision.guarded, decision.reason
    assert decision.counts.to_mark == 1 and _marked(ctx) == 1
