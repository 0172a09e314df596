"""The bench's three-tenant profile runs, tiny, and its figures are consistent (the figures
themselves are the benchmark's: docs/PERFORMANCE.md; no time is asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stkpi_tools.bench.tenants import TenantsBenchConfig, run_tenants_bench, write

pytestmark = [pytest.mark.chaos, pytest.mark.integration]


def test_three_tenants_at_once_against_the_largest_alone(tmp_path: Path) -> None:
    cfg = TenantsBenchConfig(scales=(0.004, 0.002, 0.001))
    report = run_tenants_bench(tmp_path / "lab", cfg, log=lambda _: None)
    paths = write(report, tmp_path / "tenants.json")
    assert json.loads(paths[0].read_text())["ratio"] == report["ratio"]
    assert "ratio" in paths[1].read_text()
    alone, together = report["alone"]["tenants"], report["together"]["tenants"]
    largest, *added = report["config"]["tenants"]
    assert list(alone) == [largest] and list(together) == [largest, *added]
    # the same tenant, the same history: the same records either way
    assert together[largest]["records"] == alone[largest]["records"] > 0
    # three sizes, as asked: the largest first
    sizes = [together[t]["records"] for t in (largest, *added)]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] > 0
    # the run's time is its slowest tenant's; the ratio and verdict follow from the times
    assert report["together"]["seconds"] == max(f["seconds"] for f in together.values())
    ratio = report["together"]["seconds"] / report["alone"]["seconds"]
    assert report["ratio"] == round(ratio, 2)
    assert report["met"] == (ratio <= report["goal"])
    assert all(f["requests"] > 0 for f in together.values())
    assert report["raw_equals_simulator"], report["raw_differences"]
