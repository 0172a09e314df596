"""What an operation's schemas say: its page shape, its record schema, a field's schema.

Three page shapes occur in the operations the pipeline calls (SERVICETITAN.md):

- ``page``: ``{page, pageSize, hasMore, totalCount, data: [...]}`` (a ``PaginatedResponse``);
- ``array``: a bare JSON array of records (the inventory-bills list);
- ``export``: ``{hasMore, continueFrom, data: [...]}`` (an ``ExportResponse``).
"""

from __future__ import annotations

from typing import Any, Literal

from stkpi_tools.st_spec.documents import Document, Operation, document

Shape = Literal["page", "array", "export", "object"]

_PAGE_FIELDS = {"page", "pageSize", "hasMore", "data"}
_EXPORT_FIELDS = {"hasMore", "continueFrom", "data"}


def variants(doc: Document, schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The concrete schemas ``schema`` may be: its ``$ref`` followed, its ``oneOf`` /
    ``anyOf`` alternatives (each resolved), or itself."""
    schema = doc.resolve(schema)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return [v for alt in schema[key] for v in variants(doc, alt)]
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return variants(doc, schema["allOf"][0])
    return [schema]


def shape(op: Operation) -> Shape:
    """The page shape of ``op``'s 200 response."""
    doc = document(op.module)
    schema = doc.resolve(op.response_schema())
    if schema.get("type") == "array":
        return "array"
    fields = set(schema.get("properties", {}))
    if fields >= _EXPORT_FIELDS and "continueFrom" in fields:
        return "export"
    if fields >= _PAGE_FIELDS:
        return "page"
    return "object"


def record_schema(op: Operation) -> dict[str, Any]:
    """The schema of one record of ``op``'s answer (``data``'s items, or the array's)."""
    doc = document(op.module)
    schema = doc.resolve(op.response_schema())
    if schema.get("type") == "array":
        return doc.resolve(schema["items"])
    data = schema.get("properties", {}).get("data")
    if data is None:
        return schema
    return doc.resolve(doc.resolve(data)["items"])


def field_schema(op: Operation, dotted: str) -> dict[str, Any] | None:
    """The schema of the record field at ``dotted`` (``job.id``), or None if the record has
    no such field. Nested objects are followed through ``$ref`` and ``oneOf``."""
    doc = document(op.module)
    current: list[dict[str, Any]] = [record_schema(op)]
    found: dict[str, Any] | None = None
    for part in dotted.split("."):
        found = None
        for candidate in current:
            for variant in variants(doc, candidate):
                prop = variant.get("properties", {}).get(part)
                if prop is not None:
                    found = prop
                    break
            if found is not None:
                break
        if found is None:
            return None
        current = [found]
    return found


def value_types(op: Operation, schema: dict[str, Any]) -> tuple[set[str], str | None, bool]:
    """(JSON types, format, nullable) a field's schema allows, through refs and oneOf."""
    doc = document(op.module)
    nullable = bool(schema.get("nullable"))
    types: set[str] = set()
    fmt: str | None = schema.get("format")
    for variant in variants(doc, schema):
        nullable = nullable or bool(variant.get("nullable"))
        if "type" in variant:
            types.add(variant["type"])
        fmt = fmt or variant.get("format")
    if "type" in schema:
        types.add(schema["type"])
    return types, fmt, nullable
