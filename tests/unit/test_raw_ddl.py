"""The raw DDL rendered from the registry creates the tables Terraform declares.

Until the hand-written ``sql/raw/<name>.sql`` files went, a test here proved the rendered
DDL byte-identical to each of them; the committed Terraform schemas were generated from
those files, so comparing with them keeps holding the rendering to the same tables.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

from stkpi.raw_ddl import columns, ddl_text
from stkpi.registry import ENTITIES

ROOT = Path(__file__).resolve().parents[2]


# the generator's DDL parser, as the script defines it (it is not a package module)
parse_ddl = runpy.run_path(str(ROOT / "scripts" / "gen_terraform_schemas.py"))["parse_ddl"]


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_rendered_ddl_parses_to_the_committed_terraform_schema(entity) -> None:
    committed = json.loads(
        (ROOT / "terraform" / "schemas" / "raw" / f"{entity.name}.json").read_text()
    )
    assert committed.pop("source") == "shared/stkpi/registry.py"
    assert parse_ddl(ddl_text(entity)) == committed


def test_key_columns_are_required_and_every_raw_table_can_mark_deletes() -> None:
    for entity in ENTITIES:
        cols = {name: (type_, required) for name, type_, required in columns(entity)}
        assert all(cols[k][1] for k in entity.key), entity.name
        assert sum(required for _, required in cols.values()) == len(entity.key), entity.name
        assert cols["deleted_at"] == ("TIMESTAMP", False), entity.name
        assert cols["payload"] == ("STRING", False), entity.name
