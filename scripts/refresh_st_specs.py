#!/usr/bin/env python3
"""Refresh specs/servicetitan/ from a copy of ServiceTitan's published OpenAPI specs.

ServiceTitan publishes one OpenAPI 3 document per API module on its developer portal; a
public copy, scraped from the portal, lives in the repository archdotdev/tap-service-titan
(folder ``tap_service_titan/openapi_specs/``). This script keeps, per module, only what the
pipeline calls (each registry entity's list endpoint and, where the module has one, its
export; the Reporting API operations ``stkpi.reconcile.reports_api`` calls) and every schema
those operations reach, drops the examples, and writes ``specs/servicetitan/<module>.json``
with its source (repository, path, commit, commit date) recorded in ``SOURCE.json``.

    # from a git directory of the tap (e.g. one brought by the `fetch` tool):
    .venv/bin/python scripts/refresh_st_specs.py --git-dir /work/.mirror/archdotdev+tap-service-titan/repo
    # from a folder holding the *-v2.json files (say which commit and date they are):
    .venv/bin/python scripts/refresh_st_specs.py --dir DIR --commit SHA --date 2026-03-13
    # exit 1 when the files in the repo differ from what the source gives (changes nothing):
    .venv/bin/python scripts/refresh_st_specs.py --git-dir ... --check

It prints what changed (operations and schemas added, removed or changed), so a refresh is
reviewed as a diff of the API, and then `tests/unit/test_st_contract.py` says whether the
registry, the client and the simulator still agree with it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "shared"))

from stkpi.reconcile.reports_api import ReportingApi  # noqa: E402
from stkpi.registry import ENTITIES  # noqa: E402

OUT = ROOT / "specs" / "servicetitan"
REPOSITORY = "archdotdev/tap-service-titan"
FOLDER = "tap_service_titan/openapi_specs"
# Keys that only illustrate (large, and no part of the contract).
_DROP = {"example", "examples"}


def wanted_operations() -> dict[str, set[tuple[str, str]]]:
    """(method, path) per API module that the pipeline may call; an export is kept only
    where the module publishes one (the script looks, see ``trim``)."""
    ops: dict[str, set[tuple[str, str]]] = {}
    for entity in ENTITIES:
        paths = ops.setdefault(entity.module, set())
        paths.add(("get", f"/tenant/{{tenant}}/{entity.resource}"))
        paths.add(("get", f"/tenant/{{tenant}}/export/{entity.resource}"))
    for method, path in ReportingApi.OPERATIONS.values():
        ops.setdefault(ReportingApi.MODULE, set()).add((method, path))
    return ops


def module_of(spec: dict[str, Any]) -> str | None:
    """The API module a document describes, from its server URL (``.../accounting/v2``)."""
    for server in spec.get("servers") or []:
        parts = str(server.get("url", "")).rstrip("/").split("/")
        if len(parts) >= 2 and parts[-1] == "v2":
            return parts[-2]
    return None


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in _DROP}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            out.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            _refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _refs(value, out)


def trim(spec: dict[str, Any], wanted: set[tuple[str, str]], source: dict[str, str]) -> dict:
    """The document with only the ``wanted`` operations that exist and the schemas they
    reach (transitively), examples dropped."""
    paths: dict[str, Any] = {}
    for path, item in spec.get("paths", {}).items():
        kept = {m: op for m, op in item.items() if (m, path) in wanted}
        if kept:
            shared = {k: v for k, v in item.items() if k == "parameters"}
            paths[path] = _strip({**shared, **kept})
    schemas = spec.get("components", {}).get("schemas", {})
    reached: set[str] = set()
    todo: set[str] = set()
    _refs(paths, todo)
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        if name not in schemas:
            raise SystemExit(f"{source['path']}: $ref to a missing schema {name!r}")
        reached.add(name)
        _refs(schemas[name], todo)
    return {
        "openapi": spec.get("openapi"),
        "info": spec.get("info"),
        "servers": spec.get("servers"),
        "x-stkpi-source": source,
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {n: _strip(schemas[n]) for n in sorted(reached)}},
    }


def _git(git_dir: str, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", git_dir, *args], check=True, capture_output=True, text=True
    ).stdout


def read_sources(args: argparse.Namespace) -> tuple[dict[str, dict], dict[str, str]]:
    """Every ``*-v2.json`` document of the source, by file name, and where they came from."""
    docs: dict[str, dict] = {}
    if args.git_dir:
        commit = _git(args.git_dir, "rev-parse", args.rev).strip()
        date = _git(args.git_dir, "log", "-1", "--format=%cI", commit).strip()
        names = _git(args.git_dir, "ls-tree", "--name-only", f"{commit}:{FOLDER}").split()
        for name in names:
            if name.endswith(".json"):
                docs[name] = json.loads(_git(args.git_dir, "show", f"{commit}:{FOLDER}/{name}"))
    else:
        commit, date = args.commit, args.date
        for path in sorted(Path(args.dir).glob("*.json")):
            docs[path.name] = json.loads(path.read_text())
    return docs, {"repository": REPOSITORY, "commit": commit, "date": date}


def _summary(old: dict | None, new: dict) -> list[str]:
    """One line per operation or schema added, removed or changed."""
    lines: list[str] = []

    def ops(doc: dict | None) -> dict[str, Any]:
        return {
            f"{m.upper()} {p}": op
            for p, item in (doc or {}).get("paths", {}).items()
            for m, op in item.items()
            if m != "parameters"
        }

    for kind, before, after in (
        ("operation", ops(old), ops(new)),
        ("schema", (old or {}).get("components", {}).get("schemas", {}),
         new["components"]["schemas"]),
    ):  # fmt: skip
        for name in sorted(set(before) | set(after)):
            if name not in before:
                lines.append(f"  + {kind} {name}")
            elif name not in after:
                lines.append(f"  - {kind} {name}")
            elif before[name] != after[name]:
                lines.append(f"  ~ {kind} {name}")
    return lines


def _text(doc: dict) -> str:
    return json.dumps(doc, indent=1, sort_keys=False, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--git-dir", help="a git directory of archdotdev/tap-service-titan")
    src.add_argument("--dir", help="a folder holding the *-v2.json documents")
    parser.add_argument("--rev", default="HEAD", help="with --git-dir: the commit to read")
    parser.add_argument("--commit", default="unknown", help="with --dir: the source commit")
    parser.add_argument("--date", default="unknown", help="with --dir: the source date")
    parser.add_argument("--out", default=str(OUT), help="where the trimmed documents go")
    parser.add_argument("--check", action="store_true", help="exit 1 if the files differ")
    args = parser.parse_args(argv)

    docs, origin = read_sources(args)
    wanted = wanted_operations()
    out = Path(args.out)
    files: dict[str, str] = {}
    source_index: dict[str, Any] = {**origin, "folder": FOLDER, "modules": {}}
    found: dict[str, tuple[str, dict]] = {}
    for name, doc in sorted(docs.items()):
        module = module_of(doc)
        if module in wanted:
            found[module] = (name, doc)
    missing = sorted(set(wanted) - set(found))
    if missing:
        print(f"no document in the source for module(s): {', '.join(missing)}", file=sys.stderr)
        return 2
    changed = False
    for module, (name, doc) in sorted(found.items()):
        source = {**origin, "path": f"{FOLDER}/{name}"}
        trimmed = trim(doc, wanted[module], source)
        target = out / f"{module}.json"
        old = json.loads(target.read_text()) if target.exists() else None
        text = _text(trimmed)
        files[target.name] = text
        source_index["modules"][module] = {
            "file": target.name,
            "source": source["path"],
            "operations": sum(
                len([m for m in i if m != "parameters"]) for i in trimmed["paths"].values()
            ),
            "schemas": len(trimmed["components"]["schemas"]),
        }
        if old is None or _text(old) != text:
            changed = True
            print(f"{target.name}: {'new' if old is None else 'changed'}")
            for line in _summary(old, trimmed):
                print(line)
    index_text = _text(source_index)
    index = out / "SOURCE.json"
    if not index.exists() or index.read_text() != index_text:
        changed = True
        print(f"{index.name}: {'new' if not index.exists() else 'changed'}")
    if args.check:
        return 1 if changed else 0
    out.mkdir(parents=True, exist_ok=True)
    for fname, text in files.items():
        (out / fname).write_text(text)
    index.write_text(index_text)
    print(f"wrote {len(files)} documents to {out} ({origin['commit'][:12]}, {origin['date']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
