#!/usr/bin/env python3
"""Generate terraform/schemas/{raw,ops}/<table>.json from the raw and ops tables' DDL.

The DDL is the single source of truth for table shapes: the raw tables' is rendered from
the entity registry (``stkpi.raw_ddl``, one per ``ENTITIES`` row), the ops tables' and
views' are the files in sql/ops. Terraform creates the same tables (so a deploy has every
table before the first run) from these generated files. Each JSON holds the BigQuery schema
plus the partition field and clustering columns read from the DDL's
``PARTITION BY DATE(x)`` / ``CLUSTER BY a, b``; a view file yields its query with the
``${...}`` placeholders kept (Terraform fills them in).

    .venv/bin/python scripts/gen_terraform_schemas.py          # rewrite the files
    .venv/bin/python scripts/gen_terraform_schemas.py --check  # exit 1 if any file is stale

(the project's virtualenv: the raw DDL is rendered by ``stkpi``, imported from ``shared/``).

``tests/terraform`` runs the check, so a registry or DDL change without regenerating fails CI.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "terraform" / "schemas"
# Where a raw table's schema comes from (the JSON's ``source``; it also marks a file as
# generated, so one left behind by a removed entity is deleted).
RAW_SOURCE = "shared/stkpi/registry.py"

_TABLE = re.compile(
    r"CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+`[^`]*\.(?P<name>\w+)`\s*\((?P<body>.*?)\n\)"
    r"(?P<tail>[^;]*);",
    re.S | re.I,
)
_VIEW = re.compile(
    r"CREATE\s+OR\s+REPLACE\s+VIEW\s+`[^`]*\.(?P<name>\w+)`\s+AS\s*\n(?P<query>.*?);?\s*$",
    re.S | re.I,
)
_COLUMN = re.compile(r"^\s*(?P<name>\w+)\s+(?P<type>[A-Z0-9_]+)(?P<notnull>\s+NOT\s+NULL)?\s*,?")
# BigQuery's API answers with the legacy type names; writing those avoids a perpetual diff.
_LEGACY = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN", "STRUCT": "RECORD"}
_PARTITION = re.compile(r"PARTITION\s+BY\s+(?:DATE\((?P<f1>\w+)\)|(?P<f2>\w+))", re.I)
_CLUSTER = re.compile(r"CLUSTER\s+BY\s+(?P<cols>[\w\s,]+)", re.I)


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0].rstrip() for line in sql.splitlines())


def parse_ddl(sql: str) -> dict[str, Any] | None:
    """Schema, partitioning and clustering of one CREATE TABLE / CREATE VIEW file.

    None for a file that creates nothing (a query such as ``ops/high_water_marks.sql``).
    """
    header = [ln[2:].strip() for ln in sql.splitlines() if ln.startswith("--")]
    body = _strip_comments(sql)
    view = _VIEW.search(body)
    if view is not None:
        return {
            "name": view["name"],
            "kind": "view",
            "description": " ".join(header),
            "query": view["query"].strip(),
        }
    table = _TABLE.search(body)
    if table is None:
        if re.search(r"\bCREATE\b", body, re.I):
            raise ValueError("a CREATE statement this generator does not understand")
        return None
    schema = []
    for line in table["body"].splitlines():
        m = _COLUMN.match(line)
        if m is None:
            continue
        schema.append(
            {
                "name": m["name"],
                "type": _LEGACY.get(m["type"].upper(), m["type"].upper()),
                "mode": "REQUIRED" if m["notnull"] else "NULLABLE",
            }
        )
    part = _PARTITION.search(table["tail"])
    clus = _CLUSTER.search(table["tail"])
    return {
        "name": table["name"],
        "kind": "table",
        "description": " ".join(header),
        "partition_field": (part["f1"] or part["f2"]) if part else None,
        "clustering": [c.strip() for c in clus["cols"].split(",") if c.strip()] if clus else [],
        "schema": schema,
    }


def _render(spec: dict[str, Any], layer: str, source: str) -> tuple[Path, str]:
    spec["source"] = source
    return OUT / layer / f"{spec['name']}.json", json.dumps(spec, indent=2) + "\n"


def render_all() -> dict[Path, str]:
    # This checkout's stkpi, whichever copy the interpreter has installed.
    sys.path.insert(0, str(ROOT / "shared"))
    from stkpi.raw_ddl import ddl_text
    from stkpi.registry import ENTITIES

    files: dict[Path, str] = {}
    for entity in ENTITIES:
        spec = parse_ddl(ddl_text(entity))
        if spec is None or spec["name"] != entity.raw_table:
            raise ValueError(f"{entity.name}: the rendered DDL does not create its raw table")
        path, text = _render(spec, "raw", RAW_SOURCE)
        files[path] = text
    for sql_file in sorted((ROOT / "sql" / "ops").glob("*.sql")):
        spec = parse_ddl(sql_file.read_text())
        if spec is None:
            continue
        if spec["name"] != sql_file.stem:
            raise ValueError(f"{sql_file}: defines {spec['name']}, not {sql_file.stem}")
        path, text = _render(spec, "ops", f"sql/ops/{sql_file.name}")
        files[path] = text
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if generated files are stale")
    args = ap.parse_args(argv)
    want = render_all()
    generated = {p for p in OUT.glob("*/*.json") if json.loads(p.read_text()).get("source")}
    stale = sorted(
        [str(p) for p, text in want.items() if not p.exists() or p.read_text() != text]
        + [str(p) for p in generated - set(want)]
    )
    if args.check:
        for p in stale:
            print(f"stale: {p}", file=sys.stderr)
        if stale:
            print("run: .venv/bin/python scripts/gen_terraform_schemas.py", file=sys.stderr)
        return 1 if stale else 0
    for p in generated - set(want):
        p.unlink()
    for p, text in want.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
