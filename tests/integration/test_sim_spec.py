"""The simulator serves what ServiceTitan's spec says, over HTTP, at two scales.

Every answer of every endpoint the pipeline calls (each entity's list, as the pipeline and
as a default client ask it; its export, chained to the end and started from a date; the
Reporting API's categories, reports, report descriptions and data) is checked against its
operation's 200 response schema in ``specs/servicetitan``: no field the spec lacks, every
required field present, every value of the spec's type and format, null only where the spec
allows it (``stkpi_tools.st_spec.Validator``). Money is checked beyond the schema, where the
spec only says "string": accounting's amounts are decimal strings to the cent, the other
modules' are JSON numbers to the cent.

Two scales, because a small tenant lacks the rare shapes (an invoice with a lost job link,
a gross-pay item without an id) that a larger one has.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from stkpi.reconcile.reports_api import ReportingApi
from stkpi.registry import ENTITIES, Entity
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.server import SimHandle, running_simulator
from stkpi_tools.sim.shapes import operation
from stkpi_tools.st_spec import Operation, Validator, document, field_schema, value_types

pytestmark = pytest.mark.integration

SCALES = (0.002, 0.01)
PAGE = 1_000
_CENTS_TEXT = re.compile(r"-?\d+\.\d\d")


@pytest.fixture(scope="module", params=SCALES, ids=lambda s: f"scale{s}")
def sim(request: pytest.FixtureRequest) -> Iterator[SimHandle]:
    config = SimConfig(scale=request.param, rate_limit_per_second=100_000, export_page_size=400)
    with running_simulator(config) as handle:
        yield handle


@pytest.fixture(scope="module")
def headers(sim: SimHandle) -> dict[str, str]:
    token = requests.post(
        f"{sim.auth_url}/connect/token",
        data={"grant_type": "client_credentials", "client_id": sim.client_id,
              "client_secret": sim.client_secret},
        timeout=10,
    ).json()["access_token"]  # fmt: skip
    return {"Authorization": f"Bearer {token}", "ST-App-Key": sim.app_key}


def _problems(op: Operation, body: Any, where: str) -> list[str]:
    return Validator(document(op.module)).problems(body, op.response_schema(), where)


def _money_problems(entity: Entity, op: Operation, records: list[dict[str, Any]]) -> list[str]:
    """Every NUMERIC column's value: a decimal string to the cent where the spec types it a
    string (accounting), else a JSON number to the cent."""
    out: list[str] = []
    for col in entity.columns:
        if col.type != "NUMERIC" or not col.sources:
            continue
        field = field_schema(op, col.sources[0])
        assert field is not None, (entity.name, col.name)
        as_text = "string" in value_types(op, field)[0]
        for rec in records:
            value = rec.get(col.sources[0])
            if value is None:
                continue
            if as_text:
                if not (isinstance(value, str) and _CENTS_TEXT.fullmatch(value)):
                    out.append(f"{entity.name}.{col.sources[0]}: {value!r} is no cents string")
            elif not isinstance(value, int | float) or isinstance(value, bool):
                out.append(f"{entity.name}.{col.sources[0]}: {value!r} is no number")
            elif Decimal(repr(value)) != Decimal(repr(value)).quantize(Decimal("0.01")):
                out.append(f"{entity.name}.{col.sources[0]}: {value!r} is not to the cent")
    return out[:10]


def _records(body: Any) -> list[dict[str, Any]]:
    return body if isinstance(body, list) else body["data"]


def _list_pages(sim: SimHandle, headers: dict[str, str], entity: Entity, **params: Any):
    url = sim.base_url + entity.path(sim.tenant_id)
    page = 1
    while True:
        query = {"page": page, "pageSize": PAGE, "includeTotal": "true", **params}
        if getattr(entity, "list_shape", "page") == "array":
            query.pop("includeTotal")
        resp = requests.get(url, headers=headers, params=query, timeout=60)
        assert resp.status_code == 200, (entity.name, resp.text[:300])
        body = resp.json()
        yield page, body
        more = body["hasMore"] if isinstance(body, dict) else len(body) == PAGE
        if not more:
            return
        page += 1


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_every_list_answer_is_the_spec_s(sim: SimHandle, headers: dict, entity: Entity) -> None:
    op = operation(entity, "list")
    problems: list[str] = []
    served = 0
    # as the pipeline asks (inactive records too), and as a default client does
    for ask, params in enumerate((dict(entity.extra_params), {})):
        for page, body in _list_pages(sim, headers, entity, **params):
            problems += _problems(op, body, f"{entity.name} page {page} {params}")
            problems += _money_problems(entity, op, _records(body))
            served += len(_records(body)) if ask == 0 else 0
    assert not problems, "\n".join(problems[:30])
    assert served == len(sim.snapshot(entity.name)), "the pipeline's ask returns every record"


@pytest.mark.parametrize("entity", [e for e in ENTITIES if e.export_resource], ids=lambda e: e.name)
def test_every_export_answer_is_the_spec_s(sim: SimHandle, headers: dict, entity: Entity) -> None:
    op = operation(entity, "export")
    url = sim.base_url + entity.export_path(sim.tenant_id)
    problems: list[str] = []
    token: str | None = None
    keys: set[Any] = set()
    while True:
        resp = requests.get(url, headers=headers, params={"from": token} if token else {},
                            timeout=60)  # fmt: skip
        assert resp.status_code == 200, resp.text[:300]
        body = resp.json()
        problems += _problems(op, body, f"{entity.name} export from {token}")
        problems += _money_problems(entity, op, body["data"])
        keys.update(r.get("id") or id(r) for r in body["data"])
        if not body["hasMore"]:
            break
        token = body["continueFrom"]
    dated = requests.get(url, headers=headers, params={"from": "2025-01-01"}, timeout=60).json()
    problems += _problems(op, dated, f"{entity.name} export from a date")
    assert all(r["modifiedOn"] >= "2025-01-01" for r in dated["data"])
    assert not problems, "\n".join(problems[:30])
    assert len(keys) >= len({r.get("id") for r in sim.snapshot(entity.name)}) - 1


def test_every_reporting_answer_is_the_spec_s(sim: SimHandle, headers: dict) -> None:
    spec = document(ReportingApi.MODULE)
    base = f"{sim.base_url}/{ReportingApi.MODULE}/v2"

    def call(name: str, body: Any = None, params: dict | None = None, **path: Any) -> None:
        method, template = ReportingApi.OPERATIONS[name]
        op = spec.operation(method, template)
        assert op is not None
        url = base + template.format(tenant=sim.tenant_id, **path)
        resp = requests.request(method, url, headers=headers, json=body, params=params,
                                timeout=60)  # fmt: skip
        assert resp.status_code == 200, (name, resp.text[:300])
        problems.extend(_problems(op, resp.json(), f"{name} {path}"))
        return resp.json()

    problems: list[str] = []
    categories = call("categories")["data"]
    for category in categories:
        for report in call("reports", params={"page": 1, "pageSize": 50},
                           report_category=category["id"])["data"]:  # fmt: skip
            call("describe", report_category=category["id"], reportId=report["id"])
            body = {"parameters": [{"name": "From", "value": "2025-06-02"},
                                   {"name": "To", "value": "2025-08-31"}]}  # fmt: skip
            call("data", body, {"page": 1, "pageSize": 5_000}, report_category=category["id"],
                 reportId=report["id"])  # fmt: skip
    assert categories and not problems, "\n".join(problems[:30])


def test_every_error_answer_is_the_spec_s_error_body(sim: SimHandle, headers: dict) -> None:
    """The specs document one error answer, 400's ``ApiErrorResponse`` (``type, title,
    status, traceId, errors, data``); the simulator answers every refusal in that shape,
    which the client reads (``stkpi.servicetitan.pages.error_message``)."""
    jobs = next(e for e in ENTITIES if e.name == "jobs")
    op = operation(jobs, "list")
    schema = op.doc["responses"]["400"]["content"]["application/json"]["schema"]
    validator = Validator(document(op.module))
    url = sim.base_url + jobs.path(sim.tenant_id)
    answers = {
        400: requests.get(url, headers=headers, params={"pageSize": "x"}, timeout=10),
        401: requests.get(url, headers={"ST-App-Key": sim.app_key}, timeout=10),
        403: requests.get(url, headers={"Authorization": headers["Authorization"]}, timeout=10),
        404: requests.get(sim.base_url + jobs.path("999"), headers=headers, timeout=10),
    }
    problems = []
    for status, resp in answers.items():
        assert resp.status_code == status, (status, resp.text[:200])
        problems += validator.problems(resp.json(), schema, f"{status}")
    assert not problems, "\n".join(problems)
    assert answers[400].json()["errors"] == {"pageSize": ["'x' is not an integer"]}
