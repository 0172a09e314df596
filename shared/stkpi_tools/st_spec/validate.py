"""Check a JSON value against an OpenAPI 3.0 schema of ServiceTitan's documents.

The documents use a small part of OpenAPI's schema language, and this checks all of it:
``$ref``, ``oneOf`` / ``anyOf`` / ``allOf``, ``nullable``, ``type`` (``object``, ``array``,
``string``, ``integer``, ``number``, ``boolean``), ``enum``, ``required``,
``additionalProperties: false`` and the formats that constrain a value (``int32``, ``int64``,
``date-time``, ``date``). Each problem is one line naming where it is (``$.data[3].job.id``),
what was found and what the spec allows, so a failing test says what to fix.

Written here rather than taken from a JSON Schema library because OpenAPI 3.0's
``nullable`` and its ``format`` rules are not JSON Schema's, and a wrong verdict on either
is exactly the bug this exists to catch.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from stkpi_tools.st_spec.documents import Document

_INT_RANGE = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?")
MAX_PROBLEMS = 20


# JSON type names, most specific first (a bool is an int in Python, an int is no float).
_JSON_TYPES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
    (list, "array"), (dict, "object"),
)  # fmt: skip


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)),
                type(value).__name__)  # fmt: skip


def _format_problem(value: Any, fmt: str | None) -> str | None:
    if fmt in _INT_RANGE and isinstance(value, int) and not isinstance(value, bool):
        lo, hi = _INT_RANGE[fmt]
        if not lo <= value <= hi:
            return f"{value} is out of {fmt} range"
    if fmt == "date-time" and isinstance(value, str):
        if not _DATE_TIME.fullmatch(value):
            return f"{value!r} is not an ISO-8601 date-time"
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return f"{value!r} is not a real date and time"
    if fmt == "date" and isinstance(value, str):
        try:
            date.fromisoformat(value)
        except ValueError:
            return f"{value!r} is not an ISO-8601 date"
    return None


def _type_ok(value: Any, wanted: str) -> bool:
    got = _type_of(value)
    return got == wanted or (wanted == "number" and got == "integer")


class Validator:
    """Validates values against the schemas of one module's document; ``required=False``
    leaves out the check that required fields are present (a hand-made fixture that spells
    only the fields it needs), every other check stays."""

    def __init__(self, doc: Document, *, required: bool = True) -> None:
        self.doc = doc
        self.required = required

    def problems(self, value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
        """Every way ``value`` breaks ``schema`` (empty when it conforms)."""
        out: list[str] = []
        self._check(value, schema, where, out, name=None)
        return out

    def _check(
        self, value: Any, schema: dict[str, Any], where: str, out: list[str], name: str | None
    ) -> None:
        if len(out) >= MAX_PROBLEMS:
            return
        name = self.doc.name_of(schema) or name
        nullable = bool(schema.get("nullable"))
        schema = self.doc.resolve(schema)
        nullable = nullable or bool(schema.get("nullable"))
        if value is None:
            # OpenAPI 3.0: nullable adds null to an explicit ``type``; a schema with no type
            # (``{}``, a report cell) takes any value, null included.
            untyped = not any(k in schema for k in ("type", "oneOf", "anyOf", "allOf", "enum",
                                                    "properties"))  # fmt: skip
            if not nullable and not untyped:
                out.append(f"{where}: null, but the spec does not allow null ({name or 'value'})")
            return
        for key in ("oneOf", "anyOf"):
            if key in schema:
                fits = 0
                errors: list[str] = []
                for alt in schema[key]:
                    found: list[str] = []
                    self._check(value, alt, where, found, name=None)
                    fits += not found
                    errors = errors or found
                if (key == "oneOf" and fits != 1) or (key == "anyOf" and fits == 0):
                    out.extend(errors or [f"{where}: matches {fits} of the {key} alternatives"])
                    return
        for alt in schema.get("allOf", []):
            self._check(value, alt, where, out, name=None)
        wanted = schema.get("type")
        if wanted is not None and not _type_ok(value, wanted):
            out.append(f"{where}: {_type_of(value)} {value!r:.60}, the spec says {wanted}"
                       + (f" ({name})" if name else ""))  # fmt: skip
            return
        if "enum" in schema and value not in schema["enum"]:
            out.append(f"{where}: {value!r} is not one of {schema['enum']}")
        problem = _format_problem(value, schema.get("format"))
        if problem:
            out.append(f"{where}: {problem}")
        if isinstance(value, dict):
            self._object(value, schema, where, out, name)
        elif isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                self._check(item, schema["items"], f"{where}[{i}]", out, name=None)

    def _object(
        self,
        value: dict[str, Any],
        schema: dict[str, Any],
        where: str,
        out: list[str],
        name: str | None,
    ) -> None:
        props: dict[str, Any] = schema.get("properties", {})
        for key in schema.get("required", []) if self.required else ():
            if key not in value:
                out.append(
                    f"{where}: missing required field {key!r}" + (f" ({name})" if name else "")
                )
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                self._check(item, props[key], f"{where}.{key}", out, name=None)
            elif extra is False:
                out.append(
                    f"{where}.{key}: a field the spec does not have"
                    + (f" ({name})" if name else "")
                )
            elif isinstance(extra, dict):
                self._check(item, extra, f"{where}.{key}", out, name=None)  # fmt: skip
