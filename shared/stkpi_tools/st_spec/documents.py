"""ServiceTitan's OpenAPI documents, as the project keeps them (``specs/servicetitan/``).

The documents are data in the repository, trimmed from ServiceTitan's published specs by
``scripts/refresh_st_specs.py`` (source and commit in ``specs/servicetitan/SOURCE.json``).
They are the one description of ServiceTitan's wire format: the simulator shapes its
records from them and the tests hold the registry, the client and the simulator to them.
The runtime never reads them (a deployed function ships without them): what it must know
of a shape is declared in the registry, and checked against these documents by a test.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_REF = "#/components/schemas/"


def specs_dir() -> Path:
    """``specs/servicetitan``: ``STKPI_SPECS_DIR`` if set, else the repository's copy."""
    override = os.environ.get("STKPI_SPECS_DIR")
    if override:
        return Path(override)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "specs" / "servicetitan"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("specs/servicetitan not found; set STKPI_SPECS_DIR")


@dataclass(frozen=True)
class Operation:
    """One operation of a module's document: where it is and what it declares."""

    module: str
    method: str
    path: str  # as the document writes it: /tenant/{tenant}/jobs
    doc: dict[str, Any]

    @property
    def operation_id(self) -> str:
        return str(self.doc.get("operationId", f"{self.method.upper()} {self.path}"))

    def query_params(self) -> dict[str, dict[str, Any]]:
        """The operation's query parameters by name."""
        return {p["name"]: p for p in self.doc.get("parameters", []) if p.get("in") == "query"}

    def response_schema(self, status: str = "200") -> dict[str, Any]:
        content = self.doc["responses"][status]["content"]
        return content["application/json"]["schema"]


class Document:
    """One module's document with its ``$ref``s resolvable."""

    def __init__(self, module: str, doc: dict[str, Any]) -> None:
        self.module = module
        self.doc = doc
        self.schemas: dict[str, Any] = doc.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """``schema`` with any chain of ``$ref`` followed."""
        seen = 0
        while "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith(SCHEMA_REF):
                raise ValueError(f"{self.module}: unsupported $ref {ref!r}")
            schema = self.schemas[ref[len(SCHEMA_REF) :]]
            seen += 1
            if seen > 50:
                raise ValueError(f"{self.module}: $ref loop at {ref!r}")
        return schema

    def name_of(self, schema: dict[str, Any]) -> str | None:
        ref = schema.get("$ref")
        return ref[len(SCHEMA_REF) :] if isinstance(ref, str) else None

    def operation(self, method: str, path: str) -> Operation | None:
        item = self.doc.get("paths", {}).get(path)
        if not item or method not in item:
            return None
        return Operation(self.module, method, path, item[method])

    def operations(self) -> list[Operation]:
        return [
            Operation(self.module, m, p, op)
            for p, item in self.doc.get("paths", {}).items()
            for m, op in item.items()
            if m != "parameters"
        ]


@cache
def document(module: str) -> Document:
    """The document of API module ``module`` (``jpm``, ``accounting``, ``sales``, ...)."""
    path = specs_dir() / f"{module}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"no ServiceTitan spec for module {module!r} at {path}: "
            "run scripts/refresh_st_specs.py (docs/SERVICETITAN_SPECS.md)"
        )
    return Document(module, json.loads(path.read_text()))


def source() -> dict[str, Any]:
    """Where the documents came from (repository, commit, date, files)."""
    return json.loads((specs_dir() / "SOURCE.json").read_text())
