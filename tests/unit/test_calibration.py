"""The validations over the simulator's generator (stkpi_tools.calibrate), without the stack.

The demo's tenant is a function of the clock hour, so whether ``./dev demo`` and its test
end GREEN used to depend on when they ran. The tenant of every hour of two days is judged
here by the checks that read raw (freshness, volume, coverage, joins), through the same
judges and date logic the pipeline runs (tests/integration/test_calibration_measures.py
holds the inputs equal to the SQL's): all GREEN. And each fault of the calibration is
seen, so the harness can fail.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from stkpi.validation.config import ValidationConfig
from stkpi_tools.calibrate.faults import FAULTS
from stkpi_tools.calibrate.image import demo_tenant, image_of
from stkpi_tools.calibrate.offline import judge_image
from stkpi_tools.calibrate.run import RANK, TenantVerdict, judge_tenant, markdown, tally
from stkpi_tools.sim.config import DEFAULT_NOW, SimConfig
from stkpi_tools.sim.tenant import Tenant

CONFIG = ValidationConfig()
TZ = ZoneInfo("America/Phoenix")
# The day the issue saw the demo YELLOW at 16:00 UTC, and the simulator's default day.
DAYS = (dt.date(2026, 12, 7), dt.date(2025, 10, 1))


def _not_green(results) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{r.status} {r.name}: {r.message}" for r in results if r.status != "GREEN"]


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_the_demo_tenant_is_green_at_every_hour_of_the_day(day: dt.date) -> None:
    alarms = {}
    for hour in range(24):
        clock = dt.datetime.combine(day, dt.time(hour), dt.UTC)
        image = image_of(demo_tenant(0.01, 42, clock))  # `stkpi demo`'s scale and seed
        if bad := _not_green(judge_image(image, CONFIG, TZ)):
            alarms[clock.isoformat()] = bad
    assert not alarms, alarms


def test_the_readme_walks_tenant_is_green() -> None:
    # `stkpi local up`: scale 0.01, seed 42, the simulator's clock at 2025-10-01 12:00.
    tenant = Tenant(SimConfig(scale=0.01, seed=42, now=DEFAULT_NOW))
    assert not _not_green(judge_image(image_of(tenant), CONFIG, TZ))


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_is_seen_by_the_checks_meant_for_it(fault: str) -> None:
    # Scale 0.05 has months enough for coverage; a day is judged from 20 records
    # (volume_min_base), which takes scale 0.2 (a slower tenant to build: that case only).
    scale = 0.2 if fault == "volume_drop" else 0.05
    clock = dt.datetime(2026, 12, 7, 16, tzinfo=dt.UTC)
    tenant = demo_tenant(scale, 3, clock)
    image = image_of(tenant)
    healthy = {r.name: RANK[r.status] for r in judge_image(image, CONFIG, TZ)}
    assert not any(healthy.values())
    done = FAULTS[fault](image, tenant, CONFIG, TZ, np.random.default_rng(5))
    assert done is not None, f"{fault} applies at scale {scale}"
    worse = [r for r in judge_image(done.image, CONFIG, TZ) if RANK[r.status] > healthy[r.name]]
    assert any(r.name.startswith(f"{done.family}.") for r in worse), (done.target, worse)


def test_a_volume_drop_does_not_apply_where_a_day_is_too_small_to_judge() -> None:
    clock = dt.datetime(2026, 12, 7, 16, tzinfo=dt.UTC)
    tenant = demo_tenant(0.05, 3, clock)  # 4 to 7 records a day per entity
    image = image_of(tenant)
    assert FAULTS["volume_drop"](image, tenant, CONFIG, TZ, np.random.default_rng(5)) is None


def test_the_tally_counts_false_alarms_and_catches() -> None:
    clock = dt.datetime(2025, 10, 1, 12, tzinfo=dt.UTC)
    verdict = judge_tenant(0.01, 42, clock, CONFIG, "America/Phoenix")
    alarm = TenantVerdict(0.01, 1, clock.isoformat(), [("coverage.jobs", "YELLOW", "x")])
    report = tally([verdict, alarm])
    assert report["healthy"]["tenants"] == 2 and report["healthy"]["false_alarms"] == 1
    assert report["healthy"]["by_family"] == {"coverage": {"tenants": 1, "rate": 0.5}}
    caught = {name: f["caught"] for name, f in report["faults"].items()}
    assert caught == {"lost_window": 1, "dropped_month": 1, "stale_entity": 1, "broken_join": 1,
                      "volume_drop": 0}  # fmt: skip
    assert report["faults"]["volume_drop"]["not_applicable"] == {"0.01": 1}
    assert "| coverage | 1 | 50.00% |" in markdown(report)
