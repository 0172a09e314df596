"""Weeks that start on the tenant's day, in the tenant's time zone (docs/KPI_RULES.md,
"Week start"): a hand-computed fixture tenant in America/New_York whose weeks start on
Sunday, built through ``settings_for`` as an added tenant's rebuild sees it.

New York is UTC-4 in August (EDT). Sunday weeks: S1 = Sun 2025-08-17 .. Sat 08-23,
S2 = Sun 08-24 .. Sat 08-30; the as-of date of a week is its Saturday. The same records
in Monday weeks fall in the weeks of Mon 08-11 and Mon 08-18 instead: the facts dated
Saturday night and Sunday are placed to tell the two (and a UTC date) apart.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from kpi_tenant import load_tenant

from stkpi.kpi_config import load_kpi_config
from stkpi.marts import build_marts
from stkpi.tenants import Tenant, secret_names, settings_for
from stkpi.warehouse import ensure_tables

pytestmark = pytest.mark.integration

S1, S2 = dt.date(2025, 8, 17), dt.date(2025, 8, 24)
_T0 = "2025-01-01T00:00:00Z"


def _job(id_, customer, bu, jtype, status, created, completed=None):
    return {"id": id_, "jobNumber": str(1000 + id_), "customerId": customer, "locationId": 1,
            "businessUnitId": bu, "jobTypeId": jtype, "jobStatus": status,
            "createdOn": created, "modifiedOn": created, "completedOn": completed,
            "campaignId": 1, "soldById": None, "total": 0}  # fmt: skip


def _inv(id_, job, amount, date):
    return {"id": id_, "referenceNumber": f"INV{id_}", "invoiceDate": date, "subTotal": amount,
            "total": amount, "balance": "0.00", "active": True, "createdOn": date,
            "modifiedOn": date, "job": {"id": job, "number": str(1000 + job), "type": None},
            "businessUnit": {"id": 2, "name": "Boston-Production"},
            "customer": {"id": 100, "name": "x"}}  # fmt: skip


def _est(id_, job, status, subtotal, created, sold=None):
    return {"id": id_, "jobId": job, "status": {"value": 0, "name": status}, "soldOn": sold,
            "soldBy": None, "subtotal": subtotal, "tax": 0.0, "active": True,
            "createdOn": created, "modifiedOn": sold or created, "items": []}  # fmt: skip


_PAYMENT = {"id": 601, "date": "2025-08-24T03:30:00Z", "total": "400.00",
            "appliedTo": [{"appliedId": 6010, "appliedTo": 501, "appliedAmount": "400.00"}],
            "active": True, "createdOn": "2025-08-24T03:30:00Z",
            "modifiedOn": "2025-08-24T03:30:00Z"}  # fmt: skip

SUNDAY_TENANT = {
    "business_units": [
        {"id": i, "name": n, "active": True, "createdOn": _T0, "modifiedOn": _T0}
        for i, n in [(1, "Boston-Sales"), (2, "Boston-Production")]
    ],
    "customers": [
        {"id": i, "name": n, "type": "Residential", "active": True, "createdOn": _T0}
        for i, n in [(100, "Alice"), (101, "Bob")]
    ],
    "job_types": [
        {"id": i, "name": n, "active": True, "createdOn": _T0, "modifiedOn": _T0}
        for i, n in [(10, "ESTIMATE-RES"), (20, "Repaint")]
    ],
    "jobs": [
        # created Mon 08-18 12:00 EDT; completed 08-24T03:00Z = Sat 08-23 23:00 EDT
        _job(1, 100, 1, 10, "Completed", "2025-08-18T16:00:00Z", "2025-08-24T03:00:00Z"),
        # created 08-24T14:00Z = Sun 08-24 10:00 EDT: the first day of S2
        _job(2, 101, 1, 10, "Scheduled", "2025-08-24T14:00:00Z"),
        # created Sun 08-17 10:00 EDT (the earliest fact: S1 is the first week);
        # completed 08-24T02:30Z = Sat 08-23 22:30 EDT (a UTC date would say Sunday, S2)
        _job(3, 100, 2, 20, "Completed", "2025-08-17T14:00:00Z", "2025-08-24T02:30:00Z"),
        # completed 08-24T16:00Z = Sun 08-24 12:00 EDT
        _job(4, 101, 2, 20, "Completed", "2025-08-18T14:00:00Z", "2025-08-24T16:00:00Z"),
    ],
    "estimates": [
        # sold 08-24T13:00Z = Sun 08-24 09:00 EDT
        _est(301, 1, "Sold", 1200.0, "2025-08-18T17:00:00Z", "2025-08-24T13:00:00Z"),
        _est(302, 2, "Open", 500.0, "2025-08-24T15:00:00Z"),
    ],
    "invoices": [
        _inv(501, 3, "1000.00", "2025-08-20T15:00:00Z"),  # Wed 08-20 local
        _inv(502, 4, "250.50", "2025-08-24T17:00:00Z"),  # Sun 08-24 local
    ],
    # paid 08-24T03:30Z = Sat 08-23 23:30 EDT: collected in S1, off S1's A/R
    "payments": [_PAYMENT],
}


@pytest.fixture(scope="module")
def sunday_marts(bq_emulator):
    """The fixture built as added tenant 4242's marts (its datasets, zone and week start)."""
    client = bq_emulator.client
    deployment = bq_emulator.settings.model_copy(update={"bq_dataset_prefix": "wkstart"})
    tenant = Tenant("4242", "Boston Painting", secret_names(deployment.gcp_project, "4242"),
                    "America/New_York", "sunday")  # fmt: skip
    settings = settings_for(deployment, tenant)
    ensure_tables(client, settings)
    load_tenant(client, settings, SUNDAY_TENANT)
    build_marts(client, settings, load_kpi_config(settings))
    mart = f"{settings.gcp_project}.{settings.dataset('mart')}"
    rows = client.query_and_wait(
        f"SELECT kpi, week_start, bu, value, numerator, denominator FROM `{mart}.kpi_weekly`"
    )
    weeks = client.query_and_wait(
        f"SELECT week_start, week_end FROM `{settings.gcp_project}.{settings.dataset('dim')}"
        ".dim_weeks` ORDER BY week_start"
    )
    cells = {(r["kpi"], r["week_start"], r["bu"]): (r["value"], r["numerator"], r["denominator"])
             for r in rows}  # fmt: skip
    return settings, cells, [(r["week_start"], r["week_end"]) for r in weeks]


def test_the_tenant_marts_are_in_its_own_datasets(sunday_marts) -> None:
    settings, _, _ = sunday_marts
    assert settings.dataset("mart") == "wkstart_t4242_mart"


def test_weeks_run_sunday_to_saturday(sunday_marts) -> None:
    # Earliest fact: job 3 created Sun 08-17 local -> S1 starts that Sunday; latest: Sun 08-24
    # (job 4 completed, invoice 502, estimate 301 sold) -> S2. Each ends on its Saturday.
    _, _, weeks = sunday_marts
    assert weeks == [(S1, dt.date(2025, 8, 23)), (S2, dt.date(2025, 8, 30))]


def test_sales_kpis_by_sunday_week(sunday_marts) -> None:
    _, cells, _ = sunday_marts
    bu = "Boston-Sales"
    # Leads: S1 job 1 (Alice, created Mon 08-18); S2 job 2 (Bob, created Sun 08-24 10:00
    # local: in Monday weeks it would be the week of 08-18 with job 1, 2 leads in one week).
    assert cells[("leads", S1, bu)][0] == 1
    assert cells[("leads", S2, bu)][0] == 1
    # Estimates by createdOn: 301 Mon 08-18 -> S1; 302 Sun 08-24 -> S2.
    assert cells[("estimates", S1, bu)][0] == 1
    assert cells[("estimates", S2, bu)][0] == 1
    # Total Booked by soldOn: 301 sold Sun 08-24 09:00 local -> S2 $1,200.00; S1 nothing.
    assert cells[("total_booked", S1, bu)][0] == D("0")
    assert cells[("total_booked", S2, bu)][0] == D("1200.00")
    # Success Rate: job 1 (estimate type, Completed Sat 08-23 23:00 local -> S1) is an
    # opportunity, closed by the sold estimate 301 -> 1/1; S2 has none -> NULL over 0.
    assert cells[("success_rate", S1, bu)] == (D(1), D(1), D(1))
    assert cells[("success_rate", S2, bu)] == (None, D(0), D(0))


def test_production_kpis_by_sunday_week(sunday_marts) -> None:
    _, cells, _ = sunday_marts
    bu = "Boston-Production"
    # $ Produced by completedOn: job 3 Sat 08-23 22:30 local -> S1 (invoice 501, 1,000.00);
    # job 4 Sun 08-24 noon -> S2 (invoice 502, 250.50). Monday weeks would put both in the
    # week of 08-18 (1,250.50).
    assert cells[("produced", S1, bu)][0] == D("1000.00")
    assert cells[("produced", S2, bu)][0] == D("250.50")
    # $ Collected by payment date: 601 Sat 08-23 23:30 local -> S1 $400 (invoice 501 -> job 3).
    assert cells[("collected", S1, bu)][0] == D("400.00")
    assert cells[("collected", S2, bu)][0] == D("0")
    # Outstanding A/R as of the week's Saturday D. D1 = 08-23: invoice 501 (08-20) 1,000 -
    # payment 601 (08-23 local, <= D1) 400 = 600; invoice 502 (08-24) not yet. D2 = 08-30:
    # 600 + 502's 250.50 = 850.50.
    assert cells[("outstanding_ar", S1, bu)][0] == D("600.00")
    assert cells[("outstanding_ar", S2, bu)][0] == D("850.50")
    # Warranty %: one completed job a week, neither warranty -> 0 / 1.
    assert cells[("warranty_pct", S1, bu)] == (D(0), D(0), D(1))
    assert cells[("warranty_pct", S2, bu)] == (D(0), D(0), D(1))


def test_every_week_starts_on_sunday(sunday_marts) -> None:
    _, cells, _ = sunday_marts
    assert {week for _, week, _ in cells} == {S1, S2}
