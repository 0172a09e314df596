"""The benchmark's aggregation of ops rows, CPU accounting and table (pure logic, fixtures).

The benchmark itself is a measurement and stays out of the suite; these check only that
its figures say what the docs claim they say.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stkpi_tools.bench import cpu
from stkpi_tools.bench.figures import cpu_per_thousand, latest_per_window, stage_figures
from stkpi_tools.bench.profiles import FRIENDLY, ST, parse_profiles
from stkpi_tools.bench.report import HEADER, markdown, rows
from stkpi_tools.bench.runner import cpu_figures, profile_config

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _w(
    window: str, state: str, at: float, ms: int, records: int = 0, entity: str = "jobs", **kw: Any
) -> dict[str, Any]:
    detail = kw.pop("detail", None)
    return {
        "entity": entity,
        "window_id": window,
        "state": state,
        "pages": kw.pop("pages", None),
        "records": records,
        "rows_merged": kw.pop("rows_merged", None),
        "duration_ms": ms,
        "detail": json.dumps(detail) if detail is not None else None,
        "event_time": T0 + timedelta(seconds=at),
    }


def _r(state: str, at: float, ms: int, **kw: Any) -> dict[str, Any]:
    return {"state": state, "event_time": T0 + timedelta(seconds=at), "duration_ms": ms, **kw}


# Today's pipeline: one MERGE per loaded window, its time in the loaded event's detail.
PER_WINDOW = [
    _w("w1", "planned", 0, 0),
    _w("w1", "fetched", 10, 10_000, 5000, pages=1),
    _w("w2", "fetched", 12, 12_000, 3000, pages=1),
    _w("w2", "fetched", 30, 5_000, 3000, pages=1),  # redelivered: the latest counts
    _w("w3", "fetched", 4, 2_000, 0, pages=0),
    _w("w1", "loaded", 13, 3_000, 5000, rows_merged=5000,
       detail={"load_ms": 1000, "merge_ms": 2000}),
    _w("w2", "loaded", 33, 2_500, 3000, rows_merged=3000,
       detail={"load_ms": 500, "merge_ms": 1500}),
    _w("w3", "loaded", 5, 100, 0, detail={"load_ms": 0, "merge_ms": 0}),
]  # fmt: skip


def test_per_window_merges_when_no_entity_merged_events() -> None:
    stages = stage_figures(PER_WINDOW, [_r("rebuilt", 40, 4200)], requests=4, ceiling=10_000)
    fetch, load, merge = stages["fetch"], stages["load"], stages["merge"]
    assert fetch["windows"] == 3 and fetch["windows_split"] == 0
    assert fetch["records"] == 8000 and fetch["pages"] == 2
    assert fetch["busy_seconds"] == pytest.approx(17.0)  # 10 + 5 (latest of w2) + 2
    assert fetch["span_seconds"] == pytest.approx(30.0)  # w1 started at 0, w2 ended at 30
    assert fetch["records_per_request"] == 2000
    assert fetch["ceiling_ratio"] == pytest.approx(8000 / 30 / 10_000, abs=1e-3)
    assert load["load_jobs"] == 2 and load["windows"] == 3
    assert load["busy_seconds"] == pytest.approx(1.5)  # load job parts only
    assert load["handler_seconds"] == pytest.approx(5.6)
    assert merge == {
        "source": "window_events", "merges": 2, "windows": 2, "rows": 8000,
        "busy_seconds": 3.5, "records_per_busy_second": round(8000 / 3.5, 1),
    }  # fmt: skip
    assert stages["rebuild"] == {"seconds": 4.2}


def test_batched_merges_and_split_windows_are_counted_when_present() -> None:
    windows = [
        _w("coarse", "split", 1, 1_000, 0, pages=0),  # read its first page, then split
        _w("c1", "fetched", 5, 4_000, 4000, pages=1),
        _w("c2", "fetched", 6, 5_000, 4500, pages=1),
        _w("i1", "fetched", 6, 3_000, 2000, pages=1, entity="invoices"),
        _w("c1", "loaded", 7, 900, 4000, detail={"load_ms": 900}),  # no merge_ms any more
        _w("c2", "loaded", 8, 800, 4500),  # no detail: the whole duration is the load job
        _w("i1", "loaded", 8, 700, 2000, detail={"load_ms": 700}),
    ]
    runs = [
        _r("entity_merged", 9, 2_000, entities="jobs", records=8500, windows=2),
        _r("entity_merged", 9, 1_000, entities="invoices", records=2000, windows=1),
        _r("rebuilt", 12, 3_000),
    ]
    stages = stage_figures(windows, runs, requests=5, ceiling=300_000)
    assert stages["fetch"]["windows"] == 3 and stages["fetch"]["windows_split"] == 1
    assert stages["fetch"]["busy_seconds"] == pytest.approx(13.0)  # the split read counts
    assert stages["load"]["load_jobs"] == 3
    assert stages["load"]["busy_seconds"] == pytest.approx(2.4)
    merge = stages["merge"]
    assert merge["source"] == "run_events"
    assert (merge["merges"], merge["windows"], merge["rows"]) == (2, 3, 10_500)
    assert merge["busy_seconds"] == pytest.approx(3.0)
    assert merge["per_entity"] == {"invoices": 1, "jobs": 1}


def test_latest_per_window_keeps_one_row_per_window_and_state() -> None:
    kept = latest_per_window(PER_WINDOW)
    assert len(kept) == 7
    w2 = [r for r in kept if r["window_id"] == "w2" and r["state"] == "fetched"]
    assert [r["duration_ms"] for r in w2] == [5_000]


def test_empty_run_has_zero_figures_not_errors() -> None:
    stages = stage_figures([], [], requests=0, ceiling=300_000)
    assert stages["fetch"]["records"] == 0 and stages["fetch"]["records_per_second"] == 0.0
    assert stages["merge"]["merges"] == 0 and "rebuild" not in stages
    assert cpu_per_thousand(3.0, 0) == 0.0
    assert cpu_per_thousand(3.0, 6000) == 0.5


def test_stat_ticks_reads_user_system_and_reaped_children() -> None:
    # pid (comm with ") (" inside) state ppid pgrp ... utime stime cutime cstime ...
    fields = ["S", "1", "7", "7", "0", "-1", "4194304", "10", "0", "0", "0"]
    fields += ["150", "50", "30", "20", "20", "0", "1", "0", "100"]
    stat = "4242 (gunicorn: ) (x) " + " ".join(fields)
    assert cpu.stat_ticks(stat) == 250


def test_cpu_delta_and_groups() -> None:
    before = {"simulator": 10.0, "fn-fetch_window": 1.0, "fn-load_batch": 2.0,
              "bigquery": 5.0, "pubsub": 3.0, "gcs": 0.5, "front": 0.1, "bench": 4.0}  # fmt: skip
    after = {"simulator": 40.0, "fn-fetch_window": 9.0, "fn-load_batch": 4.0,
             "bigquery": 25.0, "pubsub": 4.0, "gcs": 1.0, "front": 0.6, "bench": 3.0}  # fmt: skip
    used = cpu.delta(before, after)
    assert used["simulator"] == 30.0 and used["bench"] == 0.0  # never negative
    groups = cpu.grouped(used)
    assert groups == {
        "bench": 0.0, "emulators": 21.5, "functions": 10.0, "plumbing": 0.5,
        "simulator": 30.0, "total": 62.0,
    }  # fmt: skip
    figures = cpu_figures(used, 20_000)
    assert figures["per_1000_records"]["functions"] == 0.5
    assert figures["per_1000_records"]["total"] == 3.1


def test_cpu_snapshot_of_this_process_group() -> None:
    import os

    snap = cpu.snapshot({"me": os.getpgid(0)})
    assert snap["me"] >= 0 and snap[cpu.BENCH] >= 0


def test_profiles() -> None:
    assert ST.ceiling == 300_000 and FRIENDLY.ceiling == 5_000
    assert ST.latency_seconds(5000) == pytest.approx(1.0)
    assert 0.05 <= ST.latency_seconds(1) <= 0.1
    assert ST.in_flight_needed == pytest.approx(60.0)
    assert FRIENDLY.in_flight_needed == pytest.approx(2.0)
    assert parse_profiles("friendly, st,st") == (FRIENDLY, ST)
    with pytest.raises(ValueError, match="profiles are st, friendly"):
        parse_profiles("st,fast")
    custom = ST.with_overrides(rate_limit=30.0, page_size=None)
    assert custom.rate_limit == 30.0 and custom.page_size == 5000
    assert ST.sim_faults() == {
        "latency_ms": 80, "latency_per_record_ms": 0.184, "rate_limit_per_second": 60.0,
    }  # fmt: skip


def _run(profile: str) -> dict[str, Any]:
    stages = stage_figures(PER_WINDOW, [_r("rebuilt", 40, 4200)], requests=4, ceiling=10_000)
    used = {"simulator": 3.0, "fn-fetch_window": 2.0, "bigquery": 4.0, "bench": 1.0}
    return {
        "scale": 0.02,
        "profile": profile,
        "backfill": {
            "seconds": 41.0, "records": 8000, "records_per_second": 195.1, "requests": 4,
            "records_per_request": 2000.0, "stages": stages, "cpu": cpu_figures(used, 8000),
        },
        "daily": {"seconds": 9.4},
        "memory_kib": {"fn-fetch_window": {"peak_kib": 117_760}},
        "baseline": {"seconds": 60.0},
        "speedup": 1.46,
        "cpu_ratio": 0.8,
    }  # fmt: skip


def test_table_has_one_row_per_scale_and_profile() -> None:
    results = {
        "runs": [_run("st"), _run("friendly")],
        "config": {
            "concurrency": 8, "window_days": None, "deployment_window_days": 3650,
            "profiles": {"st": profile_config(ST), "friendly": profile_config(FRIENDLY)},
        },
        "machine": {"platform": "Linux", "cpus": 2, "memory_gib": 23.5, "python": "3.11"},
        "finished_at": "2026-01-01T00:00:00Z",
        "total_seconds": 120.0,
    }  # fmt: skip
    header, *body = rows(results)
    assert header == HEADER and len(body) == 2
    cells = dict(zip(header, body[0], strict=True))
    assert cells["profile"] == "st" and cells["windows fetched/split"] == "3/0"
    assert cells["MERGEs"] == "2" and cells["busy s fetch/load/merge/rebuild"] == "17/1.5/3.5/4.2"
    assert cells["CPU s sim/fn/emu/other"] == "3.0/2.0/4.0/1.0"
    assert cells["CPU s per 1k rec fn/all"] == "0.25/1.25"
    assert cells["peak MiB fetch/load/rebuild"] == "115/0/0"
    assert cells["speed-up"] == "1.5x" and cells["CPU vs naive"] == "0.80x"
    text = markdown(results)
    assert "60 requests in flight" in text and "1,000 ms a full page" in text
    assert "WINDOW_DAYS=3650" in text
    # Each profile's deployment comes from terraform with its variables: st's 60 req/s,
    # all for the pipeline, in fetch instances of 10/s = 6 instances (lanes), each with
    # ceil(10) = 10 pages in flight; friendly's 10 req/s in instances of 5/s = 2 lanes x 5.
    assert "`st`: 6 window lanes x 10 pages in flight = at most 60 requests" in text
    assert "`friendly`: 2 window lanes x 5 pages in flight = at most 10 requests" in text
