"""ServiceTitan's published OpenAPI specs are the contract: the registry and the client are
held to them here, the simulator in ``tests/integration/test_sim_spec.py``.

The specs (``specs/servicetitan/``, trimmed from ServiceTitan's developer portal by
``scripts/refresh_st_specs.py``) say which operations exist, which query parameters each
takes, what each answers (the paged object, a bare array, an export batch) and the fields
and types of its records. A registry or client that disagrees reads NULL on a real tenant
and nothing else fails, so every disagreement is a failure here:

- every registry entity names a list operation the spec has, and its export where the
  module publishes one;
- every query parameter the client sends (windows, key scans, counts, exports, the
  Reporting API), with its value, is one the spec lists for that operation;
- every column source path, and every field a key is hashed from, is a field of the
  operation's records, of a type the column can hold;
- every list whose ``active`` / ``activeState`` parameter hides inactive records by default
  is asked for all of them (or the registry says why not);
- each endpoint's page shape is the spec's, and the client reads a page of that shape.
"""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from stkpi.config import Settings
from stkpi.reconcile.reports_api import ReportingApi
from stkpi.registry import ENTITIES, Entity
from stkpi.rows import to_row
from stkpi.servicetitan import RetryPolicy, ServiceTitanClient
from stkpi_tools.st_spec import (
    Operation,
    Validator,
    document,
    field_schema,
    record_schema,
    required_fields,
    shape,
    value_types,
)

START = datetime(2025, 8, 11, tzinfo=UTC)
END = datetime(2025, 8, 18, tzinfo=UTC)
PAGE_SIZE = 3
TENANT = "4242"
# BigQuery column type -> the JSON types of the spec it can hold exactly.
_HOLDS = {
    "INT64": {"integer"},
    "NUMERIC": {"number", "integer", "string"},  # accounting money is a decimal string
    "FLOAT64": {"number", "integer"},
    "BOOL": {"boolean"},
    "STRING": {"string", "integer"},  # an id kept as text (a key) is exact
    "TIMESTAMP": {"string"},
}
_HIDES_UNLESS_SAID = ("active", "activeState")
_ALL_VALUES = {"active": "Any", "activeState": "All"}


def _operation(entity: Entity, kind: str) -> Operation | None:
    resource = entity.resource if kind == "list" else (entity.export_resource or entity.resource)
    prefix = "export/" if kind == "export" else ""
    return document(entity.module).operation("get", f"/tenant/{{tenant}}/{prefix}{resource}")


def _operations(entity: Entity) -> list[Operation]:
    ops = [_operation(entity, "list")]
    if entity.export_resource is not None:
        ops.append(_operation(entity, "export"))
    return [op for op in ops if op is not None]


# -- operations --------------------------------------------------------------------------


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_every_entity_names_operations_the_spec_has(entity: Entity) -> None:
    listed = _operation(entity, "list")
    assert listed is not None, (
        f"{entity.name}: the {entity.module} spec has no GET {entity.path('{tenant}')} "
        "(or specs/servicetitan is stale: scripts/refresh_st_specs.py)"
    )
    published = document(entity.module).operation(
        "get", f"/tenant/{{tenant}}/export/{entity.export_resource or entity.resource}"
    )
    if entity.export_resource is not None:
        assert published is not None, f"{entity.name}: no export/{entity.export_resource}"
    else:
        assert published is None, f"{entity.name}: the spec has an export; declare it"


# -- parameters --------------------------------------------------------------------------


class _SpecShaped(BaseAdapter):
    """Answers every API request with a body of the spec's shape for its operation (one
    page of records built from the schema's required fields), and records the requests."""

    def __init__(self, answer: Any) -> None:
        super().__init__()
        self.answer = answer
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):  # type: ignore[override]
        if request.url.startswith("http://auth.test/"):
            body: Any = {"access_token": "tok", "expires_in": 900}
        else:
            self.requests.append(request)
            body = self.answer(request)
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def _client(answer: Any) -> tuple[ServiceTitanClient, _SpecShaped]:
    adapter = _SpecShaped(answer)
    session = requests.Session()
    session.mount("http://", adapter)
    settings = Settings(
        st_api_base_url="http://st.test", st_auth_url="http://auth.test",
        st_tenant_id=TENANT, st_client_id="cid", st_client_secret="secret",
        st_app_key="ak", st_rate_limit_per_second=1000, st_page_size=PAGE_SIZE,
        gcp_project="p", landing_bucket="bucket",
    )  # fmt: skip
    client = ServiceTitanClient(
        settings, session=session, sleep=lambda s: None, clock=lambda: 0.0,
        policy=RetryPolicy(max_attempts=1), rng=random.Random(1),
    )  # fmt: skip
    return client, adapter


def _record(entity: Entity, op: Operation, n: int) -> dict[str, Any]:
    """A record of the operation's schema: its required fields, an id, the audit times."""
    record = required_fields(document(op.module), record_schema(op))
    props = record_schema(op).get("properties", {})
    for key, value in (("id", n), ("createdOn", "2025-08-12T00:00:00Z"),
                       ("modifiedOn", "2025-08-12T00:00:00Z")):  # fmt: skip
        if key in props:
            record[key] = value
    return record


def _body(entity: Entity, op: Operation, count: int, **page: Any) -> Any:
    records = [_record(entity, op, n) for n in range(1, count + 1)]
    kind = shape(op)
    if kind == "array":
        return records
    if kind == "export":
        return {"hasMore": False, "continueFrom": "t1", "data": records}
    return {"page": page.get("page", 1), "pageSize": PAGE_SIZE, "hasMore": False,
            "totalCount": count, "data": records}  # fmt: skip


def _query(request: requests.PreparedRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}


def _value_problem(param: dict[str, Any], value: str, doc_module: str) -> str | None:
    """Whether the text ``value`` is one the parameter's schema takes."""
    schema = param.get("schema", {})
    op_doc = document(doc_module)
    types, fmt, _ = value_types(Operation(doc_module, "get", "", {}), schema)
    enums = [e for v in [schema, *[op_doc.resolve(a) for a in schema.get("oneOf", [])]]
             for e in v.get("enum", [])]  # fmt: skip
    if enums:
        return None if value in enums else f"{value!r} is not one of {enums}"
    if "integer" in types:
        return None if re.fullmatch(r"-?\d+", value) else f"{value!r} is not an integer"
    if "boolean" in types:
        return None if value in ("true", "false") else f"{value!r} is not a boolean"
    if fmt == "date-time":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return f"{value!r} is not a date-time"
    return None


def _requests_for(entity: Entity) -> list[tuple[Operation, requests.PreparedRequest]]:
    """Every kind of request the client makes for ``entity``, with the operation it hits."""
    listed = _operation(entity, "list")
    assert listed is not None
    exported = _operation(entity, "export") if entity.export_resource else None
    client, adapter = _client(
        lambda r: _body(
            entity,
            exported if "/export/" in r.url else listed,
            2,
            page=int(_query(r).get("page", 1)),
        )
    )
    client.page(entity, START, END, 1)
    client.window_count(entity, START, END)
    list(client.iter_pages(entity, START, END))
    if entity.deletes:
        scan = entity.for_key_scan()
        client.page(scan, START, END, 1)
    if exported is not None:
        list(client.iter_export(entity))
        list(client.iter_export(entity, continue_from="t0", recent_changes=True))
    return [(exported if "/export/" in r.url else listed, r) for r in adapter.requests]


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_every_query_parameter_the_client_sends_is_in_the_spec(entity: Entity) -> None:
    problems: list[str] = []
    for op, request in _requests_for(entity):
        accepted = op.query_params()
        for name, value in _query(request).items():
            if name not in accepted:
                problems.append(f"{op.operation_id}: sends {name}={value}, not a parameter")
                continue
            wrong = _value_problem(accepted[name], value, op.module)
            if wrong:
                problems.append(f"{op.operation_id}: {name}: {wrong}")
    assert not problems, "\n".join(sorted(set(problems)))


def test_the_reporting_api_calls_operations_and_parameters_the_spec_has() -> None:
    spec = document(ReportingApi.MODULE)
    bodies = {
        "report-categories": {"page": 1, "pageSize": 50, "hasMore": False, "data": []},
        "reports/7/data": {"page": 1, "pageSize": 5, "hasMore": False, "totalCount": 0,
                           "data": [], "fields": []},
        "reports/7": {"id": 7, "name": "r", "modifiedOn": "2025-08-12T00:00:00Z",
                      "parameters": [], "fields": []},
        "reports": {"page": 1, "pageSize": 500, "hasMore": False, "data": []},
    }  # fmt: skip

    def answer(request: requests.PreparedRequest) -> Any:
        path = urlsplit(request.url).path
        return next(body for suffix, body in bodies.items() if path.endswith(suffix))

    client, adapter = _client(answer)
    api = ReportingApi(client, TENANT)
    api.categories()
    api.reports("operations")
    api.describe("operations", 7)
    api.data_page("operations", 7, {"From": "2025-08-11", "To": "2025-08-17"}, 1, 5)
    assert len(adapter.requests) == 4
    validator = Validator(spec)
    for (method, template), request in zip(ReportingApi.OPERATIONS.values(), adapter.requests,
                                            strict=True):  # fmt: skip
        op = spec.operation(method, template)
        assert op is not None, f"the reporting spec has no {method.upper()} {template}"
        assert request.method == method.upper()
        path = re.sub(r"\{[^}]+\}", "[^/]+", template)
        assert re.fullmatch(f"/reporting/v2{path}", urlsplit(request.url).path), request.url
        for name in _query(request):
            assert name in op.query_params(), f"{op.operation_id}: {name}"
        if request.body:
            schema = op.doc["requestBody"]["content"]["application/json"]["schema"]
            assert validator.problems(json.loads(request.body), schema) == []


# -- fields ------------------------------------------------------------------------------


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_every_column_source_is_a_field_of_the_records_of_a_type_it_holds(entity: Entity) -> None:
    problems: list[str] = []
    for op in _operations(entity):
        for col in entity.columns:
            for source in col.sources:
                field = field_schema(op, source)
                if field is None:
                    problems.append(f"{op.operation_id}: {col.name} reads {source}, no such field")
                    continue
                types, fmt, _ = value_types(op, field)
                if not types & _HOLDS[col.type]:
                    problems.append(f"{op.operation_id}: {col.name} {col.type} reads {source} "
                                    f"of type {sorted(types)}")  # fmt: skip
                if col.type == "TIMESTAMP" and fmt != "date-time":
                    problems.append(f"{op.operation_id}: {col.name} reads {source} ({fmt})")
        for name in entity.key_hash_fields or ():
            if field_schema(op, name) is None:
                problems.append(f"{op.operation_id}: the key hashes {name}, no such field")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_a_spec_shaped_record_becomes_a_row(entity: Entity) -> None:
    """What the specs make a record of (its required fields) converts without error: the
    registry's types take the spec's values (a decimal string into NUMERIC, ...)."""
    for op in _operations(entity):
        record = _record(entity, op, 7)
        if entity.key_hash_fields is not None:
            record.pop("id", None)
        row = to_row(entity, record, run_id="r", window_id="w", page=1,
                     ingested_at=START)  # fmt: skip
        assert all(row[k] is not None for k in entity.key), (op.operation_id, row)


# -- active filters ----------------------------------------------------------------------


def _hides_inactive_by_default(param: dict[str, Any]) -> bool:
    text = (param.get("description") or "").lower()
    return "all items will be returned by default" not in text


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_lists_that_hide_inactive_records_are_asked_for_all(entity: Entity) -> None:
    listed = _operation(entity, "list")
    assert listed is not None
    for name in _HIDES_UNLESS_SAID:
        param = listed.query_params().get(name)
        if param is None or not _hides_inactive_by_default(param):
            continue
        if getattr(entity, "active_note", None):
            continue  # the registry says why this list is read as it is
        sent = entity.extra_params.get(name)
        assert sent == _ALL_VALUES[name], (
            f"{entity.name}: {listed.operation_id} returns only active records unless asked "
            f"{name}={_ALL_VALUES[name]} (the spec: {param.get('description')!r}); "
            f"the registry sends {name}={sent!r}"
        )


def test_the_active_rule_reads_the_specs_words() -> None:
    appointments = _operation(next(e for e in ENTITIES if e.name == "appointments"), "list")
    exported = _operation(next(e for e in ENTITIES if e.name == "appointments"), "export")
    assert appointments is not None and exported is not None
    assert _hides_inactive_by_default(appointments.query_params()["active"])
    assert not _hides_inactive_by_default(exported.query_params()["active"])  # "all items"


# -- page shapes -------------------------------------------------------------------------


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_each_endpoint_answers_the_shape_the_registry_reads(entity: Entity) -> None:
    listed = _operation(entity, "list")
    assert listed is not None
    reads = getattr(entity, "list_shape", "page")  # main before the specs: always a page
    assert shape(listed) == reads, (
        f"{entity.name}: the spec's {listed.operation_id} answers a {shape(listed)}, "
        f"the registry reads a {reads}"
    )
    if entity.export_resource is not None:
        exported = _operation(entity, "export")
        assert exported is not None and shape(exported) == "export"


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_the_client_reads_a_page_of_the_spec_shape(entity: Entity) -> None:
    listed = _operation(entity, "list")
    assert listed is not None
    full = [_record(entity, listed, n) for n in range(1, PAGE_SIZE + 1)]

    def answer(request: requests.PreparedRequest) -> Any:
        page = int(_query(request)["page"])
        records = full if page == 1 else full[:1]
        if shape(listed) == "array":
            return records
        return {"page": page, "pageSize": PAGE_SIZE, "hasMore": page == 1,
                "totalCount": PAGE_SIZE + 1, "data": records}  # fmt: skip

    client, _ = _client(answer)
    pages = list(client.iter_pages(entity, START, END))
    assert [len(p.records) for p in pages] == [PAGE_SIZE, 1]
    if entity.export_resource is not None:
        exported = _operation(entity, "export")
        assert exported is not None
        client, _ = _client(lambda r: _body(entity, exported, 2))
        assert [len(b.records) for b in client.iter_export(entity)] == [2]
