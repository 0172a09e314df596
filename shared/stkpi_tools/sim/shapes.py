"""What the simulator takes from ServiceTitan's spec: each endpoint's operation, its page
shape, its accepted parameters and the shape of its records.

The renderers (``records``) write the fields that mean something (ids, links, dates, money,
statuses); ``conform`` completes a rendered record into the record the operation's schema
describes: every required field the renderer left out gets its neutral value
(``stkpi_tools.st_spec.defaults``), and a field of the entity's other operation that this
one does not have (an export's ``active``, absent from some lists) is dropped. Anything else
a renderer writes that the spec lacks stays, for the schema test to catch
(``tests/integration/test_sim_spec.py``).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any, Literal

from stkpi.registry import Entity, get_entity
from stkpi_tools.st_spec import Operation, document, record_schema, required_fields

Kind = Literal["list", "export"]


def operation(entity: Entity, kind: Kind) -> Operation:
    """The spec's operation behind ``entity``'s list or export endpoint."""
    resource = entity.resource if kind == "list" else entity.export_resource
    path = f"/tenant/{{tenant}}/{'export/' if kind == 'export' else ''}{resource}"
    op = document(entity.module).operation("get", path)
    if op is None:
        raise LookupError(f"{entity.name}: the {entity.module} spec has no GET {path}")
    return op


@cache
def accepted_params(name: str, kind: Kind) -> frozenset[str]:
    """The query parameters the spec lists for the endpoint."""
    return frozenset(operation(get_entity(name), kind).query_params())


@cache
def _template(name: str, kind: Kind) -> tuple[dict[str, Any], frozenset[str], frozenset[str]]:
    """The neutral required fields, the fields to drop, and which template values are
    containers (each record gets its own copy: a fault that damages a record in place
    must not reach the next one)."""
    entity = get_entity(name)
    op = operation(entity, kind)
    schema = record_schema(op)
    own = set(schema.get("properties", {}))
    other: set[str] = set()
    if entity.export_resource is not None:
        other_kind: Kind = "export" if kind == "list" else "list"
        other = set(record_schema(operation(entity, other_kind)).get("properties", {}))
    template = required_fields(document(entity.module), schema)
    containers = frozenset(k for k, v in template.items() if isinstance(v, list | dict))
    return template, frozenset(other - own), containers


def conform(name: str, kind: Kind, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` as the endpoint's schema has it (see the module's docstring)."""
    template, dropped, containers = _template(name, kind)
    out = {**template, **record}
    for key in containers:
        if out[key] is template[key]:
            out[key] = copy.deepcopy(template[key])
    for key in dropped:
        out.pop(key, None)
    return out


@cache
def nested(module: str, schema_name: str) -> dict[str, Any]:
    """The required fields of a nested schema (an estimate's line item, its SKU), with
    their neutral values: a renderer spreads it under the fields it writes (every field
    the renderer does not write is a scalar or None in the schemas used: nothing shared
    can be changed through a record)."""
    doc = document(module)
    return required_fields(doc, {"$ref": f"#/components/schemas/{schema_name}"})
