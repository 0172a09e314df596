"""Reconciliation on the fixture tenant, with each kind of difference injected.

ServiceTitan's side: the simulator's Reporting API over the hand-made fixture tenant
(kpi_tenant.TENANT), through the real client. Our side: a copy of the same tenant loaded
into raw on the BigQuery emulator, with three injected faults, and the real marts. The
fixture's own records already hold the explainable differences (a test customer, leads
counted per job, revenue dated by invoice vs job completion, a job's BU of the other role,
an invoice without a job link). Phoenix = UTC-7; W1 = 2025-08-18, W2 = 2025-08-25.
"""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal as D

import pytest
from kpi_tenant import TENANT, W1, W2, load_tenant
from pydantic import SecretStr

from stkpi.kpi_config import load_kpi_config
from stkpi.marts import build_marts
from stkpi.reconcile.compare import EXPLAINED, MATCH, UNEXPLAINED
from stkpi.reconcile.mapping import load_report_map, sources_for
from stkpi.reconcile.reports_api import MemoryCallLog, ReportFetcher, ReportingApi
from stkpi.reconcile.run import reconcile
from stkpi.servicetitan.client import ServiceTitanClient
from stkpi.warehouse import ensure_tables
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.server import running_simulator

pytestmark = pytest.mark.integration


def _raw_tenant() -> dict:
    """The fixture as our raw tables hold it, with one fault of each unexplained kind."""
    raw = copy.deepcopy(TENANT)
    # 1. missing from raw: invoice 510 ($850, job 18 Commercial-AZ-Production, 08-22 = W1).
    raw["invoices"] = [i for i in raw["invoices"] if i["id"] != 510]
    # 2. extra in raw: estimate 399 on job 5 (Tucson-Sales), created 08-27 (W2); not in ST.
    extra = copy.deepcopy(next(e for e in raw["estimates"] if e["id"] == 305))
    extra.update(id=399, status={"value": 0, "name": "Open"}, soldOn=None,
                 createdOn="2025-08-27T18:00:00Z", modifiedOn="2025-08-27T18:00:00Z")  # fmt: skip
    raw["estimates"].append(extra)
    # 3. changed amount: payment 601 applied $450 to invoice 501 in raw, $500 in ST (W2).
    pay = next(p for p in raw["payments"] if p["id"] == 601)
    pay["appliedTo"][0]["appliedAmount"] = "450.00"
    pay["total"] = D("450.00")
    return raw


@pytest.fixture(scope="module")
def result(bq_emulator):
    client = bq_emulator.client
    settings = bq_emulator.settings.model_copy(update={"bq_dataset_prefix": "recfx"})
    ensure_tables(client, settings)
    load_tenant(client, settings, _raw_tenant())
    build_marts(client, settings, load_kpi_config(settings))
    with running_simulator(SimConfig()) as sim:
        sim.state.report_source = lambda name: TENANT.get(name, [])
        st_settings = settings.model_copy(
            update={
                "st_api_base_url": sim.base_url,
                "st_auth_url": sim.auth_url,
                "st_tenant_id": sim.tenant_id,
                "st_client_id": SecretStr(sim.client_id),
                "st_client_secret": SecretStr(sim.client_secret),
                "st_app_key": SecretStr(sim.app_key),
            }
        )
        with ServiceTitanClient(st_settings) as st:
            fetcher = ReportFetcher(ReportingApi(st, sim.tenant_id), MemoryCallLog())
            sources = sources_for(sim.tenant_id, load_report_map())
            bu_map = load_kpi_config(settings).bu_map
            first = reconcile(client, settings, fetcher, sources, [W1, W2], bu_map)
            # Again at once: the same reports with the same parameters within the minute
            # are reused, not called (ServiceTitan would refuse them).
            again = reconcile(client, settings, fetcher, sources, [W1, W2], bu_map)
        stats = sim.stats()
    return first, again, stats


def _cell(rec, kpi: str, bu: str, week: dt.date):
    found = [c for c in rec.cells if (c.kpi, c.bu, c.week) == (kpi, bu, week)]
    assert len(found) == 1, (kpi, bu, week)
    return found[0]


def _ids(cell) -> list[str]:
    return sorted(r.record_id for r in cell.records)


def test_missing_from_raw_is_unexplained(result) -> None:
    c = _cell(result[0], "produced", "Commercial-AZ-Production", W1)
    # ours: job 18 completed 08-22 has no invoice left in raw -> $0; ST: invoice 510 $850.
    assert (c.ours, c.st, c.status) == (D(0), D("850"), UNEXPLAINED)
    assert _ids(c) == ["510"]
    assert c.records[0].rule is None and "not in our raw" in c.records[0].note


def test_extra_in_raw_is_unexplained(result) -> None:
    c = _cell(result[0], "estimates", "Tucson-Sales", W2)
    # ours: estimates 305 and 399 on job 5 (Carol, not a test customer) = 2; ST: 305 = 1.
    assert (c.ours, c.st, c.status) == (D(2), D(1), UNEXPLAINED)
    assert _ids(c) == ["399"] and "not in ServiceTitan" in c.records[0].note


def test_changed_amount_is_unexplained(result) -> None:
    c = _cell(result[0], "collected", "Phoenix-Production", W2)
    # ours: 601's $450 (changed) + 602's $790 to invoice 501 = $1,240; ST $500 + $790.
    assert (c.ours, c.st, c.status) == (D("1240"), D("1290"), UNEXPLAINED)
    assert _ids(c) == ["601->501"]
    assert (c.records[0].ours_amount, c.records[0].st_amount) == (D("450"), D("500"))


def test_test_customer_is_explained(result) -> None:
    c = _cell(result[0], "total_booked", "Phoenix-Sales", W1)
    # ST counts estimate 304 ($999.99, sold 08-21) of the test customer; we do not:
    # ours $1,500.00 (301), ST $2,499.99.
    assert (c.ours, c.st, c.status) == (D("1500"), D("2499.99"), EXPLAINED)
    assert _ids(c) == ["304"] and c.rules == ["test customer"]


def test_date_basis_is_explained_in_both_weeks(result) -> None:
    w1 = _cell(result[0], "produced", "Phoenix-Production", W1)
    # Invoice 502 (-$200, dated 08-26 = W2) belongs to job 11, completed 08-24 local (W1):
    # ours W1 = 501 $1,200 - 502 $200 + 503 $150 (job 12) = $1,150; ST dates 502 in W2:
    # W1 = $1,350, W2 = -$200 + 506 $0, ours W2 = $0 (job 17's $0 invoice).
    assert (w1.ours, w1.st, w1.status) == (D("1150"), D("1350"), EXPLAINED)
    assert _ids(w1) == ["502"] and w1.rules == ["date basis"]
    w2 = _cell(result[0], "produced", "Phoenix-Production", W2)
    assert (w2.ours, w2.st, w2.status) == (D(0), D("-200"), EXPLAINED)
    assert _ids(w2) == ["502"]


def test_leads_per_job_and_test_customer_explained(result) -> None:
    c = _cell(result[0], "leads", "Phoenix-Sales", W1)
    # ST: one lead per estimate job: 1, 2, 3, 4, 8 = 5. Ours: distinct non-test customers
    # Alice (1, 4), Bob (2), Carol (8) = 3; job 3 is the test customer, job 4 Alice again.
    assert (c.ours, c.st, c.status) == (D(3), D(5), EXPLAINED)
    rules = {r.record_id: r.rule for r in c.records}
    assert rules == {
        "3": "test customer",
        "4": "customer already counted this week (leads per job)",
    }


def test_only_the_injected_faults_are_unexplained(result) -> None:
    bad = sorted((c.kpi, c.bu, str(c.week)) for c in result[0].cells if c.status == UNEXPLAINED)
    assert bad == [
        ("collected", "Phoenix-Production", str(W2)),
        ("estimates", "Tucson-Sales", str(W2)),
        ("produced", "Commercial-AZ-Production", str(W1)),
    ]
    # the unmapped BU (job 7's BU 99 has no name in ST) matches as 'unmapped'
    assert _cell(result[0], "produced", "unmapped", W2).status == MATCH


def test_reports_called_once_each_and_never_refused(result) -> None:
    first, again, stats = result
    # 6 reports (aggregate + 5 row-level), one call each for both weeks; the second pass
    # within the minute reuses all six.
    assert (first.calls_made, first.reused) == (6, 0)
    assert (again.calls_made, again.reused) == (6, 6)  # the fetcher's running counts
    assert stats["report_throttled_429"] == 0
    assert [c.status for c in again.cells] == [c.status for c in first.cells]
