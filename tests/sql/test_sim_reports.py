"""ServiceTitan's reports (stkpi_tools.sim.reports) on the hand-made fixture tenant kpi_tenant.py.

Pure: no emulator. Every expected number is worked out by hand below from the fixture's
records, with ServiceTitan's own definitions (stkpi_tools.sim.reports docstring), which differ
from KPIS.md on purpose: leads per job, test customers included, revenue by invoice date.
Phoenix is UTC-7 all year. W1 = 2025-08-18..24, W2 = 2025-08-25..31.
"""

from __future__ import annotations

import datetime as dt

import pytest
from kpi_tenant import TENANT

from stkpi_tools.sim.reports import REPORT_BY_KEY, run_report

W1 = (dt.date(2025, 8, 18), dt.date(2025, 8, 24))
W2 = (dt.date(2025, 8, 25), dt.date(2025, 8, 31))


def source(name: str) -> list[dict]:
    return TENANT.get(name, [])


def by(rows: list[list], key: str, column: str) -> dict:
    names = [f.name for f in REPORT_BY_KEY[key].fields]
    return {r[names.index(column)]: r for r in rows}


def test_lead_jobs_count_every_estimate_job_test_customers_included() -> None:
    rows = run_report("lead_jobs", source, *W1)
    # W1 estimate-type jobs created 08-18..24 local: 1 (Alice), 2 (Bob, COMM-ESTIMATE),
    # 3 (the test customer), 4 (Alice again, on Hold), 8 (Carol): all Phoenix-Sales.
    # Job 9 is a Repaint, jobs 11-18 are production types: not leads.
    assert sorted(r[0] for r in rows) == [1, 2, 3, 4, 8]
    assert {r[4] for r in rows} == {"Phoenix-Sales"}
    assert by(rows, "lead_jobs", "JobId")[3][3] == "ACME tEsTing LLC"


def test_bu_performance_w1_by_hand() -> None:
    agg = by(run_report("bu_performance", source, *W1), "bu_performance", "BusinessUnitName")
    # Phoenix-Sales: leads = 5 jobs (above); estimates created in W1 on its jobs: 301, 302
    # (job 1), 303 (job 2), 304 (job 3, test), 310 (job 4) = 5; sold in W1: 301 $1,500.00
    # (08-20) + 304 $999.99 (08-21, test customer included) = $2,499.99 (303 sold
    # 2025-09-01T05:00Z = 08-31 local -> W2).
    assert agg["Phoenix-Sales"][2:] == [5, 5, 2499.99, 0.0, 0.0]
    # Phoenix-Production: estimates 307 and 308 (jobs 14, 15) created 08-20 and sold 08-21:
    # $3,000 + $500; revenue = invoices dated in W1 whose job is in the BU: 501 $1,200
    # (2025-08-25T02:00Z = 08-24 local; job 11) + 503 $150 (linked by number 2002 -> job 12).
    assert agg["Phoenix-Production"][2:] == [0, 2, 3500.0, 1350.0, 0.0]
    # Invoice 505 has no job: ServiceTitan falls back to its own BU (Corporate); payment 603
    # (08-23) applied $400 to it. Invoice 510 (job 18) $850 in Commercial-AZ-Production.
    assert agg["Corporate"][2:] == [0, 0, 0.0, 400.0, 400.0]
    assert agg["Commercial-AZ-Production"][2:] == [0, 0, 0.0, 850.0, 0.0]
    assert set(agg) == {"Phoenix-Sales", "Phoenix-Production", "Corporate",
                        "Commercial-AZ-Production"}  # fmt: skip


def test_bu_performance_w2_by_hand() -> None:
    agg = by(run_report("bu_performance", source, *W2), "bu_performance", "BusinessUnitName")
    # Revenue by invoice date: 502 -$200 (08-26) + 506 $0 (08-29) for jobs 11 and 17.
    # Collected: 601 $500 (08-26) + 602's $790 to invoice 501 = $1,290.
    assert agg["Phoenix-Production"][2:] == [0, 0, 0.0, -200.0, 1290.0]
    # Tucson-Production: estimate 309 (job 16) created 08-25, sold 08-26 $1,250; invoices
    # 504 $2,500 (08-28) + 509 $100 (job id 9999 unknown, number 2003 -> job 13);
    # collected 602's $210 + 604's $1,000 (2025-09-01T06:00Z = 08-31 local) to 504.
    assert agg["Tucson-Production"][2:] == [0, 1, 1250.0, 2600.0, 1210.0]
    # Job 7's BU 99 is not in the reference: no name. Lead job 7, estimate 306 created and
    # sold 08-27 ($450.25), invoice 507 $300 (08-27); payment 605 is in W3.
    assert agg[None][2:] == [1, 1, 450.25, 300.0, 0.0]
    assert agg["Phoenix-Sales"][2:] == [0, 0, 2000.5, 0.0, 0.0]  # 303, sold 08-31 local
    assert agg["Tucson-Sales"][2:] == [1, 1, 0.0, 0.0, 0.0]  # job 5, estimate 305
    assert agg["Mesa-Sales"][2:] == [1, 0, 0.0, 0.0, 0.0]  # job 6 (no estimate)


def test_row_reports_add_up_to_the_aggregate() -> None:
    # The aggregate is defined as the sum of the row reports: check it on W1+W2 at once.
    start, end = W1[0], W2[1]
    agg = run_report("bu_performance", source, start, end)
    assert sum(r[2] for r in agg) == len(run_report("lead_jobs", source, start, end)) == 8
    assert sum(r[3] for r in agg) == len(run_report("estimates_created", source, start, end))
    paid = run_report("payments", source, start, end)
    # 601 500 + 602 (790 + 210) + 603 400 + 604 1000 = 2900 (605 is 09-04, outside)
    assert sum(r[4] for r in paid) == pytest.approx(2900.0)
    assert sum(r[6] for r in agg) == pytest.approx(2900.0)


def test_business_unit_filter() -> None:
    rows = run_report("estimates_created", source, *W1, bu_ids=[2])
    assert sorted(r[0] for r in rows) == [307, 308]  # Phoenix-Production's only estimates
