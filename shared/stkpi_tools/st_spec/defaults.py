"""Record shapes derived from the spec: the fields a record must carry, with neutral values.

The simulator renders the fields that mean something to the pipeline (ids, links, dates,
money, statuses) by hand; every other field the spec requires of a record (a job's
``customerPo``, ``tagTypeIds``, ``noCharge``, ...) comes from here, with the neutral value
of its type, so no renderer spells out ServiceTitan's twenty-odd bookkeeping fields and a
refreshed spec that requires a new field is followed without code. The values: ``""``,
``0``, ``False``, ``[]``, an enum's first value, an object of its own required fields,
and null wherever the spec allows it.
"""

from __future__ import annotations

from typing import Any

from stkpi_tools.st_spec.documents import Document
from stkpi_tools.st_spec.schemas import variants

NEUTRAL_TIME = "2000-01-01T00:00:00Z"
_NEUTRAL = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": None}


def neutral(doc: Document, schema: dict[str, Any], depth: int = 0) -> Any:
    """The neutral value of ``schema``."""
    if schema.get("nullable"):
        return None
    options = variants(doc, schema)
    concrete = options[0] if options else {}
    if concrete.get("nullable"):
        return None
    if "enum" in concrete:
        return concrete["enum"][0]
    kind = concrete.get("type", "object" if "properties" in concrete else None)
    if kind == "array":
        return []
    if kind == "object" or kind is None:
        if depth > 8:
            return {}
        return required_fields(doc, concrete, depth + 1)
    if kind == "string" and concrete.get("format") == "date-time":
        return NEUTRAL_TIME
    return _NEUTRAL.get(kind)


def required_fields(doc: Document, schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """Every required field of an object schema, each with its neutral value."""
    schema = doc.resolve(schema)
    props = schema.get("properties", {})
    return {
        key: neutral(doc, props[key], depth) for key in schema.get("required", []) if key in props
    }
