"""The reads bench (``stkpi bench-reads``, docs/EXPORTS.md) runs, and its figures say
what the export-or-list decision rests on, at a tiny scale.

A bench is not a test of speed; this proves the script itself keeps working (it runs in
no other test) and that what it counts is consistent: a daily read by either way brings
every record the simulated day changed, and the export brings fewer records than the
list's lookback. The simulator is seeded and its clock only moves when told, so the
figures compared here do not depend on the machine or the hour; only ``seconds`` does,
and it is not asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stkpi.registry import get_entity
from stkpi_tools.bench.reads import ReadsConfig, run_reads, write

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("bench-reads")
    # Export answers of 200 records so that the larger feeds take several answers.
    cfg = ReadsConfig(scale=0.005, export_page_size=200, in_flight=8)
    return run_reads(root, cfg, log=lambda _m: None)


def test_a_daily_read_either_way_brings_every_change_of_the_day(results: dict) -> None:
    entities = results["entities"]
    changed = sum(e["changed_in_a_day"] for e in entities.values())
    exported = sum(
        e["changed_in_a_day"]
        for name, e in entities.items()
        if get_entity(name).export_resource is not None
    )
    assert exported > 0, "the simulated day changed nothing: the comparison proves nothing"
    # The list's windows cover the day (and its lookback); reference lists are read whole.
    assert results["daily"]["list"]["records"] >= changed
    # Each feed resumed from the backfill's token reads every record changed since.
    assert results["daily"]["export"]["records"] >= exported


def test_the_daily_export_reads_less_than_the_lists_lookback(results: dict) -> None:
    daily = results["daily"]
    assert daily["export"]["records"] < daily["list"]["records"]
    # One answer per feed suffices for a day's changes at this scale; each feed was asked.
    chains = daily["export_chains"]
    assert set(chains) == set(results["backfill"]["export_chains"])
    assert all(n >= 1 for n in chains.values())


def test_a_backfill_export_is_chains_of_answers(results: dict) -> None:
    backfill = results["backfill"]
    chains = backfill["export_chains"]
    # The feeds' answers are all the export's requests, and the longest chain is reported.
    assert sum(chains.values()) == backfill["export"]["requests"]
    assert backfill["export"]["longest_chain"] == max(chains.values()) > 1
    # Every exported entity's records came through its feed: at least its count today
    # minus what the day added after the backfill read (records never leave a feed).
    records = sum(e["records"] for n, e in results["entities"].items() if n in chains)
    added = sum(e["changed_in_a_day"] for n, e in results["entities"].items() if n in chains)
    assert backfill["export"]["records"] >= records - added


def test_the_figures_are_written_as_json_and_a_table(results: dict, tmp_path: Path) -> None:
    json_path, md_path = write(results, tmp_path / "reads.json")
    assert json.loads(json_path.read_text()) == results
    rows = [ln for ln in md_path.read_text().splitlines() if ln.startswith("| backfill") or
            ln.startswith("| daily")]  # fmt: skip
    assert len(rows) == 4
