"""The calibration's inputs are the validations' inputs (stkpi_tools.calibrate.offline).

``stkpi calibrate`` judges hundreds of simulated tenants without the stack, reading the
counts the checks judge off the simulator's generator. That stands for the pipeline only
if those counts are what the checks' SQL reads from raw after a sync: here one tenant is
copied through the pipeline and every input of the freshness, volume, coverage and join
checks is compared, offline against SQL, entity by entity and join by join.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pipeline_harness import Pipeline, assert_raw_matches_simulator, in_process_pipeline

from stkpi.messages import PlanMessage
from stkpi.validation import measures
from stkpi.validation.checks import LINK_JOINS
from stkpi.validation.config import ValidationConfig
from stkpi.validation.context import Context
from stkpi_tools.calibrate import offline
from stkpi_tools.calibrate.image import image_of
from stkpi_tools.sim.config import HISTORY_START

pytestmark = pytest.mark.integration

CONFIG = ValidationConfig()


@pytest.fixture(scope="module")
def copied(bq_emulator, gcs_emulator, pubsub_emulator, crash_file: Path) -> Iterator[Pipeline]:
    """The simulated tenant (scale 0.002) backfilled whole, then a day of changes synced."""
    with in_process_pipeline("cal", seed=23, crash_file=crash_file, env={}) as pipe:
        end = pipe.sim.now  # the pipeline's now (a plan may not pass it)
        pipe.run(PlanMessage(run_type="backfill", start=HISTORY_START, end=end, run_id="cal-bf"))
        pipe.sim.advance(24)
        end = pipe.sim.now
        start = end - timedelta(days=200)
        pipe.run(PlanMessage(run_type="backfill", start=start, end=end, run_id="cal-day"))
        assert_raw_matches_simulator(pipe)
        yield pipe


@pytest.fixture(scope="module")
def both(copied: Pipeline):  # type: ignore[no-untyped-def]
    settings = copied.ctx.settings
    ctx = Context(copied.ctx.bigquery, settings, copied.sim.now, CONFIG)
    return ctx, image_of(copied.sim.tenant), settings.tz


@pytest.mark.parametrize("entity", CONFIG.coverage_entities)
def test_coverage_months_are_the_sql_months(both, entity: str) -> None:  # type: ignore[no-untyped-def]
    ctx, image, tz = both
    sql = measures.coverage(ctx, entity, {})
    assert offline.coverage(image, entity, CONFIG, tz) == sql
    if entity in CONFIG.required_entities:
        assert sum(sql["months"].values()) > 0  # the comparison saw rows


@pytest.mark.parametrize("entity", CONFIG.volume_entities)
def test_volume_days_are_the_sql_days(both, entity: str) -> None:  # type: ignore[no-untyped-def]
    ctx, image, tz = both
    assert offline.volume(image, entity, CONFIG, tz) == measures.volume(ctx, entity, {})


@pytest.mark.parametrize("entity", CONFIG.freshness_entities)
def test_freshness_history_is_the_sql_history(both, entity: str) -> None:  # type: ignore[no-untyped-def]
    ctx, image, _ = both
    sql = measures.freshness(ctx, entity, {})
    mine = offline.freshness(image, entity, CONFIG)
    for key in ("row_count", "newest_modified", "now"):
        assert mine[key] == sql[key], key
    if sql["history"] is None:
        assert mine["history"] is None
        return
    assert mine["history"].records == sql["history"].records
    assert sorted(mine["history"].gaps_hours) == pytest.approx(sorted(sql["history"].gaps_hours))
    assert list(mine["history"].hourly) == list(sql["history"].hourly)


@pytest.mark.parametrize("join", LINK_JOINS)
def test_join_counts_are_the_sql_counts(both, join: str) -> None:  # type: ignore[no-untyped-def]
    ctx, image, _ = both
    sql = measures.join(ctx, join, {})
    mine = offline.join(image, join, CONFIG)
    assert (mine["total"], mine["linked"]) == (sql["total"], sql["linked"])
    assert sql["total"] > 0


def test_jobs_business_units_are_the_sql_rows(both) -> None:  # type: ignore[no-untyped-def]
    ctx, image, _ = both
    key = lambda r: (r["is_total"], r["business_unit_id"], r["bu_name"], r["jobs"])  # noqa: E731
    sql = measures.jobs_business_units(ctx, None, {})["rows"]
    mine = offline.jobs_business_units(image, CONFIG)["rows"]
    assert sorted(map(key, mine)) == sorted(map(key, sql))
