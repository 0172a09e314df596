"""The raw DDL rendered from the registry creates the tables the hand-written files did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stkpi.raw_ddl import ddl_text
from stkpi.registry import ENTITIES
from stkpi.sqlfiles import sql_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_rendered_ddl_is_the_hand_written_file(entity) -> None:
    # The proof before sql/raw/<name>.sql goes: the same bytes, so the same table
    # (columns, types, modes, partitioning, clustering and description).
    assert ddl_text(entity) == (sql_dir() / "raw" / f"{entity.name}.sql").read_text()


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_rendered_ddl_parses_to_the_committed_terraform_schema(entity) -> None:
    committed = json.loads(
        (ROOT / "terraform" / "schemas" / "raw" / f"{entity.name}.json").read_text()
    )
    committed.pop("source")
    assert gen_schemas().parse_ddl(ddl_text(entity)) == committed


def gen_schemas():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gen_schemas", ROOT / "scripts" / "gen_terraform_schemas.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
