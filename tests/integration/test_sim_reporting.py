"""The simulator's Reporting API over HTTP, through the project's client.

Shapes (categories, reports, a report's fields and parameters, paged data), ServiceTitan's
once-a-minute limit per report (429 + Retry-After, counted in stats) and clear 400s.
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from pydantic import SecretStr

from stkpi.config import Settings
from stkpi.reconcile.reports_api import ReportingApi
from stkpi.servicetitan.client import ServiceTitanClient
from stkpi.servicetitan.errors import FetchError, RequestRejectedError
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.reporting import report_id
from stkpi_tools.sim.reports import run_report
from stkpi_tools.sim.server import running_simulator

pytestmark = pytest.mark.integration

PARAMS = {"From": "2025-08-01", "To": "2025-09-28"}


@pytest.fixture(scope="module")
def sim():
    with running_simulator(SimConfig(scale=0.002)) as handle:
        yield handle


def _client(sim) -> ServiceTitanClient:
    settings = Settings(
        st_api_base_url=sim.base_url, st_auth_url=sim.auth_url, st_tenant_id=sim.tenant_id,
        st_client_id=SecretStr(sim.client_id), st_client_secret=SecretStr(sim.client_secret),
        st_app_key=SecretStr(sim.app_key), gcp_project="p", landing_bucket="bucket",
    )  # fmt: skip
    return ServiceTitanClient(settings)


def test_discover_categories_reports_fields(sim) -> None:
    api = ReportingApi(_client(sim), sim.tenant_id)
    assert [c["id"] for c in api.categories()] == ["operations", "accounting"]
    reports = {r["name"]: r["id"] for r in api.reports("operations")}
    assert reports["Business Unit Performance"] == report_id(sim.tenant_id, "bu_performance")
    desc = api.describe("operations", reports["Business Unit Performance"])
    assert [f["name"] for f in desc["fields"]][:3] == [
        "BusinessUnitId",
        "BusinessUnitName",
        "Leads",
    ]
    assert {p["name"] for p in desc["parameters"]} == {"From", "To", "BusinessUnitIds"}
    # report ids differ between tenants
    assert report_id("2000", "bu_performance") != report_id(sim.tenant_id, "bu_performance")


def test_data_is_paged_and_the_second_call_within_a_minute_is_refused(sim) -> None:
    sim.reset()
    rid = report_id(sim.tenant_id, "invoices")
    start, end = (dt.date.fromisoformat(PARAMS[k]) for k in ("From", "To"))
    expected = run_report("invoices", sim.tenant.snapshot, start, end)
    assert len(expected) > 3
    api = ReportingApi(_client(sim), sim.tenant_id)
    page = api.data_page("accounting", rid, PARAMS, 1, 3)
    assert page["fields"][0]["name"] == "InvoiceId"
    assert page["data"] == expected[:3] and page["hasMore"] and page["totalCount"] == len(expected)
    # page 2 is another call of the same report within the minute: 429 + Retry-After
    url = f"{sim.base_url}/reporting/v2/tenant/{sim.tenant_id}/report-category/accounting/reports/{rid}/data"
    token = requests.post(f"{sim.auth_url}/connect/token", data={
        "grant_type": "client_credentials", "client_id": sim.client_id,
        "client_secret": sim.client_secret}).json()["access_token"]  # fmt: skip
    resp = requests.post(url, params={"page": 2, "pageSize": 3},
                         json={"parameters": [{"name": k, "value": v} for k, v in PARAMS.items()]},
                         headers={"Authorization": f"Bearer {token}", "ST-App-Key": sim.app_key})  # fmt: skip
    assert resp.status_code == 429 and 1 <= int(resp.headers["Retry-After"]) <= 60
    assert sim.stats()["report_throttled_429"] == 1
    assert sim.stats()["counters"]["report_429_invoices"] == 1
    # another report is not limited by this one
    other = api.data_page("accounting", report_id(sim.tenant_id, "payments"), PARAMS, 1, 10)
    assert other["page"] == 1


def test_bad_parameters_get_a_clear_400(sim) -> None:
    sim.reset()
    api = ReportingApi(_client(sim), sim.tenant_id)
    rid = report_id(sim.tenant_id, "payments")
    with pytest.raises(RequestRejectedError, match="From: is required"):
        api.data_page("accounting", rid, {"To": "2025-08-01"}, 1, 10)
    with pytest.raises(RequestRejectedError, match="To: '2025-13-01' is not a date"):
        api.data_page("accounting", rid, {"From": "2025-08-01", "To": "2025-13-01"}, 1, 10)
    with pytest.raises(RequestRejectedError, match="Region: unknown parameter"):
        api.data_page("accounting", rid, {**PARAMS, "Region": "PHX"}, 1, 10)
    with pytest.raises(FetchError, match="report 1 not found"):
        api.describe("accounting", 1)
    assert sim.stats()["report_throttled_429"] == 0  # refused requests use no report slot
