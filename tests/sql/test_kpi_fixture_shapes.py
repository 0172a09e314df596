"""The KPI fixture tenant is real-shaped: every record is one ServiceTitan's spec allows.

The hand-worked KPI tests (``test_kpi_marts.py``) prove the rules on records written by
hand; this proves those records are what a real tenant sends: each field exists on the
entity's list endpoint, with the spec's type (accounting money a decimal string, elsewhere
a number), null only where allowed. A fixture may leave out fields the KPIs never read, so
required fields are not demanded. No emulator needed.
"""

from __future__ import annotations

import pytest
from kpi_tenant import TENANT

from stkpi.registry import get_entity
from stkpi_tools.sim.shapes import operation
from stkpi_tools.st_spec import Validator, document, record_schema


@pytest.mark.parametrize("name", sorted(TENANT))
def test_fixture_records_are_what_the_spec_allows(name: str) -> None:
    entity = get_entity(name)
    op = operation(entity, "list")
    validator = Validator(document(entity.module), required=False)
    schema = record_schema(op)
    problems = [
        f"{name}[{i}] {p}"
        for i, rec in enumerate(TENANT[name])
        for p in validator.problems(rec, schema)
    ]
    assert not problems, "\n".join(problems)


def test_a_fixture_with_an_invented_field_is_caught() -> None:
    entity = get_entity("payments")
    validator = Validator(document(entity.module), required=False)
    invented = {**TENANT["payments"][0], "paidOn": "2025-08-26T18:00:00Z"}
    as_number = {**TENANT["payments"][0], "total": 500.0}
    schema = record_schema(operation(entity, "list"))
    assert any(
        "paidOn: a field the spec does not have" in p for p in validator.problems(invented, schema)
    )
    assert any("the spec says string" in p for p in validator.problems(as_number, schema))
