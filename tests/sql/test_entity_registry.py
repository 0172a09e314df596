"""Adding an entity's raw table is its registry row (docs/CONTRIBUTING.md).

A throwaway reference entity, ``tag_types``, is added to the registry and nothing else; its
raw table's DDL, its Terraform schema and its table on the BigQuery emulator must follow,
with the registry's columns, the audit columns and the key's clustering.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

from stkpi import raw_ddl, registry
from stkpi.registry import Column, Entity
from stkpi.warehouse import ensure_tables

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
THROWAWAY = Entity(
    name="tag_types",
    module="settings",
    resource="tag-types",
    kind="reference",
    key=("id",),
    partition_field=None,
    window_params=None,
    columns=(
        Column("id", "INT64", ("id",)),
        Column("name", "STRING", ("name",)),
        Column("color", "STRING", ("color",)),
        Column("modified_on", "TIMESTAMP", ("modifiedOn",)),
    ),
)
# registry columns, then the audit columns every raw table has (stkpi.rows)
EXPECTED = [
    ("id", "INTEGER", "REQUIRED"),
    ("name", "STRING", "NULLABLE"),
    ("color", "STRING", "NULLABLE"),
    ("modified_on", "TIMESTAMP", "NULLABLE"),
    ("payload", "STRING", "NULLABLE"),
    ("_ingested_at", "TIMESTAMP", "NULLABLE"),
    ("_run_id", "STRING", "NULLABLE"),
    ("_window_id", "STRING", "NULLABLE"),
    ("_page", "INTEGER", "NULLABLE"),
    ("deleted_at", "TIMESTAMP", "NULLABLE"),
]


def test_an_entity_added_to_the_registry_gets_its_ddl_schema_and_table(
    bq_emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "ENTITIES", (*registry.ENTITIES, THROWAWAY))

    ddl = raw_ddl.ddl_text(THROWAWAY)
    assert "CREATE TABLE IF NOT EXISTS `${project}.${raw}.tag_types`" in ddl
    assert "/settings/v2/tenant/{tenant}/tag-types" in ddl

    # Terraform's schema file, as scripts/gen_terraform_schemas.py writes it
    files = runpy.run_path(str(ROOT / "scripts" / "gen_terraform_schemas.py"))["render_all"]()
    spec = json.loads(files[ROOT / "terraform" / "schemas" / "raw" / "tag_types.json"])
    assert [(c["name"], c["type"], c["mode"]) for c in spec["schema"]] == EXPECTED
    assert (spec["kind"], spec["partition_field"], spec["clustering"]) == ("table", None, ["id"])
    assert spec["description"].startswith("Raw tag_types (reference): one row per id")
    # every other entity's file is unchanged by the addition
    for entity in registry.ENTITIES[:-1]:
        path = ROOT / "terraform" / "schemas" / "raw" / f"{entity.name}.json"
        assert files[path] == path.read_text(), entity.name

    client = bq_emulator.client
    settings = bq_emulator.settings.model_copy(update={"bq_dataset_prefix": "entreg"})
    ensure_tables(client, settings)
    raw = f"{settings.gcp_project}.{settings.dataset('raw')}"
    table = client.get_table(f"{raw}.tag_types")
    assert [(f.name, f.field_type, f.mode) for f in table.schema] == EXPECTED
    rows = client.query(f"SELECT COUNT(*) AS n FROM `{raw}.tag_types`").result()
    assert next(iter(rows))["n"] == 0
