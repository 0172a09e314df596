"""The simulator's entity table: one row per registry entity, each step builds its rows."""

from __future__ import annotations

import subprocess
import sys

from stkpi.registry import ENTITIES
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.entities import CODES, ID_BASES, SIM_ENTITIES, VOLUMES, build_tables
from stkpi_tools.sim.generate.timeline import Timeline


def test_every_registry_entity_has_one_row_and_its_own_random_stream() -> None:
    assert set(SIM_ENTITIES) == {e.name for e in ENTITIES}
    assert len(set(CODES.values())) == len(CODES)


def test_each_step_builds_exactly_the_entities_that_name_it_after_those_it_reads() -> None:
    config = SimConfig(scale=0.003)
    tl = Timeline(config, CODES, ID_BASES, VOLUMES)
    tables: dict = {}
    done: list = []
    for spec in SIM_ENTITIES.values():
        if spec.generate in done:
            continue
        before = set(tables)
        spec.generate(config, tl, tables)  # a KeyError here: a step runs before its inputs
        done.append(spec.generate)
        named = {n for n, s in SIM_ENTITIES.items() if s.generate is spec.generate}
        assert set(tables) - before == named, spec.generate.__name__
    assert list(tables) == list(build_tables(config))


def test_the_registry_and_the_raw_ddl_never_import_the_simulator() -> None:
    code = (
        "import sys, stkpi.registry, stkpi.raw_ddl; "
        "print(sorted(m for m in sys.modules if m.startswith('stkpi_tools')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
