"""Dims and weekly KPI marts on a hand-computed fixture tenant (tests/sql/kpi_tenant.py).

Every expected number is derived here by hand, with the reasoning in a comment. Weeks
(Monday..Sunday, America/Phoenix): W1 = 2025-08-18, W2 = 2025-08-25, W3 = 2025-09-01; the
as-of dates of point-in-time KPIs are their Sundays D1 = 08-24, D2 = 08-31, D3 = 09-07.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal as D

import pytest
from kpi_tenant import W1, W2, W3, load_tenant

from stkpi.kpi_config import load_kpi_config
from stkpi.marts import KPIS, MONEY_KPIS, RATIO_KPIS, build_marts, build_seeds
from stkpi.sqlfiles import render, statements
from stkpi.warehouse import ensure_tables

pytestmark = pytest.mark.integration

WEEKS = (W1, W2, W3)
SALES_BUS = {"Phoenix-Sales": "PHX", "Tucson-Sales": "TUC", "Mesa-Sales": "Mesa"}
PRODUCTION_BUS = {
    "Phoenix-Production": "PHX",
    "Tucson-Production": "TUC",
    "Commercial-AZ-Production": "PHX",
}
SALES_KPIS = ("leads", "estimates", "total_booked", "success_rate", "estimates_scheduled")
PRODUCTION_KPIS = tuple(k for k in KPIS if k not in SALES_KPIS)


@pytest.fixture(scope="module")
def built(bq_emulator):
    client = bq_emulator.client
    settings = bq_emulator.settings.model_copy(update={"bq_dataset_prefix": "kpifx"})
    ensure_tables(client, settings)  # what terraform/bigquery.tf creates in the cloud
    load_tenant(client, settings)
    counts = build_marts(client, settings, load_kpi_config(settings))
    return client, settings, counts


def _rows(built, table: str, layer: str = "mart") -> list[dict]:
    client, settings, _ = built
    ref = f"{settings.gcp_project}.{settings.dataset(layer)}.{table}"
    return [dict(r.items()) for r in client.query(f"SELECT * FROM `{ref}`").result()]


def _default(kpi: str):
    """(value, numerator, denominator) of an empty BU-week."""
    if kpi in RATIO_KPIS:
        return (None, D(0), D(0))  # 0 denominator -> NULL ratio
    return (D(0), D(0), None)


def _expected() -> dict[tuple[str, dt.date, str], tuple]:
    exp: dict[tuple[str, dt.date, str], tuple] = {}
    for week in WEEKS:
        for bu in SALES_BUS:
            for kpi in SALES_KPIS:
                exp[(kpi, week, bu)] = _default(kpi)
        for bu in PRODUCTION_BUS:
            for kpi in PRODUCTION_KPIS:
                exp[(kpi, week, bu)] = _default(kpi)

    def count(kpi, week, bu, n):
        exp[(kpi, week, bu)] = (D(n), D(n), None)

    def money(kpi, week, bu, amount):
        exp[(kpi, week, bu)] = (D(amount), D(amount), None)

    def ratio(kpi, week, bu, num, den):
        exp[(kpi, week, bu)] = (D(num) / D(den), D(num), D(den))

    # ---- Leads (distinct non-test customers with an estimate-type job created in the week)
    # W1 Phoenix-Sales: job 1 Alice, job 2 Bob (COMM-ESTIMATE counts), job 4 Alice again
    # (Hold, any status counts; Alice once), job 8 Carol; job 3 is the test customer -> 3.
    count("leads", W1, "Phoenix-Sales", 3)
    count("leads", W2, "Tucson-Sales", 1)  # job 5 Carol
    count("leads", W2, "Mesa-Sales", 1)  # job 6 Dan (BU not in the map: role from suffix)
    count("leads", W2, "unmapped", 1)  # job 7 Eve, BU id 99 not in the reference

    # ---- Estimates (by estimate createdOn, any status, any job type, test excluded)
    # W1 Phoenix-Sales: 301, 302 (job 1), 303 (job 2), 310 (job 4); 304 is the test customer;
    # 311 is inactive (ServiceTitan's soft delete).
    count("estimates", W1, "Phoenix-Sales", 4)
    count("estimates", W2, "Tucson-Sales", 1)  # 305 (Dismissed still counts)
    count("estimates", W2, "unmapped", 1)  # 306 on job 7
    # 307/308/309 are on Production-BU jobs: role gating keeps them out of Sales KPIs.

    # ---- Total Booked (status Sold now, by soldOn in Phoenix)
    # 301; 304 test customer excluded; 311 ($5,000 Sold) inactive
    money("total_booked", W1, "Phoenix-Sales", "1500.00")
    # 303 sold 2025-09-01T05:00Z = Sunday 08-31 22:00 Phoenix -> W2 (UTC date would be W3)
    money("total_booked", W2, "Phoenix-Sales", "2000.50")
    money("total_booked", W2, "unmapped", "450.25")  # 306
    # 305 Dismissed with a leftover soldOn: Tucson-Sales W2 stays 0.00.

    # ---- Success Rate (completed estimate-type jobs; closed when any estimate is Sold)
    # W1 Phoenix-Sales: job 1 (301 Sold) closed, job 2 (303 Sold) closed, job 8 open (its
    # only estimate, 311, is inactive); job 3 test customer; job 4 on Hold is not an
    # opportunity -> 2 / 3.
    ratio("success_rate", W1, "Phoenix-Sales", 2, 3)
    ratio("success_rate", W2, "Tucson-Sales", 0, 1)  # job 5, only a Dismissed estimate
    ratio("success_rate", W2, "unmapped", 1, 1)  # job 7, 306 Sold
    # Mesa-Sales has no completed job: NULL with 0 / 0 (the default).

    # ---- Estimates Scheduled (appointments of estimate-type jobs, not Canceled)
    # W1 Phoenix-Sales: 401 (job 1) + 409 (job 2, 2025-08-25T04:00Z = Sun 08-24 Phoenix);
    # 405 is the test customer's.
    count("estimates_scheduled", W1, "Phoenix-Sales", 2)
    # W2 Mesa-Sales: job 6 has two visits 402, 403 (= 2) and 404 Canceled (excluded).
    count("estimates_scheduled", W2, "Mesa-Sales", 2)

    # ---- Produced (invoices of jobs completed in the week, any invoice date)
    # W1 Phoenix-Production: job 11 (completed 2025-08-25T03:30Z = Sun 08-24 Phoenix):
    # inv 501 $1,200.00 + credit memo 502 -$200.00 = $1,000.00; job 12: inv 503 $150.00
    # (its job.id 8888 is no job's: linked by job.number 2002) -> $1,150.00.
    money("produced", W1, "Phoenix-Production", "1150.00")
    money("produced", W1, "Commercial-AZ-Production", "850.00")  # job 18: inv 510
    # W2 Tucson-Production: job 13: inv 504 $2,500.00 + inv 509 $100.00 (job.id 9999 is
    # unknown -> matched by number 2003) = $2,600.00.
    money("produced", W2, "Tucson-Production", "2600.00")
    # W2 Phoenix-Production: job 17 with a $0 invoice -> 0.00 (the default).
    money("produced", W2, "unmapped", "300.00")  # job 7 (BU id 99): inv 507
    money("produced", W3, "Tucson-Production", "1250.00")  # job 16: inv 508
    # inv 505 is unlinked: counted in no Produced.

    # ---- GPM = (produced - labor - materials) / produced, materials included (POs ingested)
    # Labor job 11: items 300 + 100 (same sourceEntityId 7001, both count) + adj 801 25 (no
    # jobId: via its invoice 501) = 425; adj 803 (1,000) is inactive; job 12: item 50 ->
    # 50. Materials job 11, totals with their tax and shipping: bill 951 (no jobId, via PO
    # 901) 140 + PO 902 (no bill, not Canceled) 60 - return 971 20 = 180; PO 901 is billed
    # so it does not count itself; return 973 (500) is Canceled and credits nothing.
    # W1 Phoenix-Production: 1150 - 475 - 180 = 495 -> 495 / 1150.
    ratio("gpm", W1, "Phoenix-Production", "495.00", "1150.00")
    # W1 Commercial-AZ-Production: job 18: 850 - 600 (item) = 250 -> 250 / 850.
    ratio("gpm", W1, "Commercial-AZ-Production", "250.00", "850.00")
    # W2 Tucson-Production: job 13 labor 800 + 200 + adj 802 (-10, via invoice 504) = 990;
    # materials bill 952 300 (PO 903 Canceled: 0) -> 2600 - 990 - 300 = 1310 -> 1310 / 2600.
    ratio("gpm", W2, "Tucson-Production", "1310.00", "2600.00")
    # W2 Phoenix-Production: job 17 produced 0 -> NULL, 0 / 0 (the default).
    ratio("gpm", W2, "unmapped", "300.00", "300.00")  # job 7, no costs
    ratio("gpm", W3, "Tucson-Production", "1250.00", "1250.00")  # job 16, no costs

    # ---- Warranty % (warranty jobs completed / all jobs completed)
    ratio("warranty_pct", W1, "Phoenix-Production", 1, 2)  # job 12 WARRANTY; job 11
    ratio("warranty_pct", W1, "Commercial-AZ-Production", 0, 1)  # job 18
    ratio("warranty_pct", W2, "Phoenix-Production", 0, 1)  # job 17
    ratio("warranty_pct", W2, "Tucson-Production", 0, 1)  # job 13
    ratio("warranty_pct", W2, "unmapped", 0, 1)  # job 7
    ratio("warranty_pct", W3, "Tucson-Production", 0, 1)  # job 16

    # ---- Future Bookings as of Sunday D (Sold estimates with soldOn <= D, job not Canceled,
    # not completed by D, a non-Canceled appointment starting after D)
    # D1 08-24: 307 (job 14, sold 08-21, appt 406 on 09-02) = 3000; 308's job 15 Canceled;
    # 309 sold 08-26 > D1.
    money("future_bookings", W1, "Phoenix-Production", "3000.00")
    money("future_bookings", W2, "Phoenix-Production", "3000.00")  # 307 again (09-02 > 08-31)
    # D2 08-31: 309 (job 16 completed 09-03 > D2, appt 408 on 09-03 > D2) = 1250.
    money("future_bookings", W2, "Tucson-Production", "1250.00")
    # D3 09-07: 406 starts before D3 and 410 (09-10) is Canceled; job 16 completed 09-03.

    # ---- Collected (applied amounts by the payment's date, BU of the invoice applied to)
    money("collected", W1, "unlinked", "400.00")  # 603 -> inv 505 (unlinked)
    # W2 Phoenix-Production: 601 partial 500 on 501 + 602's 790 on 501 = 1290.
    money("collected", W2, "Phoenix-Production", "1290.00")
    # W2 Tucson-Production: 602's 210 on 504 (split payment) + 604 1000 (paid
    # 2025-09-01T06:00Z = Sun 08-31 23:00 Phoenix) = 1210.
    money("collected", W2, "Tucson-Production", "1210.00")
    money("collected", W3, "unmapped", "100.00")  # 605 -> inv 507 (job 7)

    # ---- Outstanding A/R as of Sunday D: per invoice max(0, total - applied by D)
    # D1: 501 1290 (invoiceDate 2025-08-25T02:00Z = 08-24 Phoenix, nothing paid) + 503 150.
    money("outstanding_ar", W1, "Phoenix-Production", "1440.00")
    money("outstanding_ar", W1, "Commercial-AZ-Production", "850.00")  # 510, never paid
    # 505 (unlinked) was paid in full on 08-23: no open balance -> no 'unlinked' row.
    # D2: 501 1290 - 500 - 790 = 0; credit memo 502 floors at 0 (does not net: netting
    # would give -50); 503 150; 506 0 -> 150.
    money("outstanding_ar", W2, "Phoenix-Production", "150.00")
    money("outstanding_ar", W2, "Commercial-AZ-Production", "850.00")
    # D2 Tucson: 504 2675 - 210 - 1000 (604 paid 08-31 local) = 1465 + 509 100 = 1565.
    money("outstanding_ar", W2, "Tucson-Production", "1565.00")
    money("outstanding_ar", W2, "unmapped", "300.00")  # 507, unpaid by D2
    money("outstanding_ar", W3, "Phoenix-Production", "150.00")
    money("outstanding_ar", W3, "Commercial-AZ-Production", "850.00")
    money("outstanding_ar", W3, "Tucson-Production", "2815.00")  # 1565 + 508 1250
    money("outstanding_ar", W3, "unmapped", "200.00")  # 507 300 - 605 100
    return exp


REGIONS = {
    **SALES_BUS,
    **PRODUCTION_BUS,
    "unmapped": "unmapped",
    "unlinked": "unlinked",
}


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(D(a) - D(b)) < D("1e-8")


def test_build_marts_reports_row_counts(built) -> None:
    _, settings, counts = built
    mart = settings.dataset("mart")
    assert counts[f"{settings.dataset('dim')}.dim_jobs"] == 17
    assert counts[f"{settings.dataset('dim')}.dim_weeks"] == 3
    assert counts[f"{mart}.kpi_weekly"] == len(_expected())


def test_dim_business_units_map_suffix_and_unmapped(built) -> None:
    rows = {r["business_unit_id"]: r for r in _rows(built, "dim_business_units", "dim")}
    assert (rows[1]["bu"], rows[1]["role"], rows[1]["region"], rows[1]["mapped_by"]) == (
        "Phoenix-Sales", "Sales", "PHX", "map",
    )  # fmt: skip
    assert (rows[5]["bu"], rows[5]["role"], rows[5]["region"], rows[5]["mapped_by"]) == (
        "Mesa-Sales", "Sales", "Mesa", "suffix",
    )  # fmt: skip
    assert (rows[6]["bu"], rows[6]["role"], rows[6]["region"]) == ("unmapped",) * 3


def test_dim_jobs_flags_and_local_dates(built) -> None:
    jobs = {r["job_id"]: r for r in _rows(built, "dim_jobs", "dim")}
    assert jobs[3]["is_test_customer"] and not jobs[1]["is_test_customer"]
    assert jobs[2]["is_estimate_type"] and jobs[4]["is_estimate_type"]  # COMM, Cabinets
    assert jobs[12]["is_warranty_type"] and not jobs[11]["is_warranty_type"]
    assert jobs[11]["completed_date"] == dt.date(2025, 8, 24)  # 03:30Z -> Phoenix Sunday
    assert (jobs[7]["bu"], jobs[7]["role"], jobs[7]["region"]) == ("unmapped",) * 3


def test_dim_invoices_link_methods(built) -> None:
    inv = {r["invoice_id"]: r for r in _rows(built, "dim_invoices", "dim")}
    got = {i: (r["job_id"], r["link_method"]) for i, r in inv.items()}
    assert got == {
        501: (11, "id"),
        502: (11, "id"),
        503: (12, "number"),  # job.id 8888 is no job's -> job.number
        504: (13, "id"),
        505: (None, "unlinked"),
        506: (17, "id"),
        507: (7, "id"),
        508: (16, "id"),
        509: (13, "number"),  # job.id 9999 unknown -> number
        510: (18, "id"),
    }
    assert inv[505]["bu"] == "unlinked"


def test_dim_payment_applications_explode_applied_to(built) -> None:
    rows = _rows(built, "dim_payment_applications", "dim")
    got = sorted((r["payment_id"], r["invoice_id"], r["applied_amount"], r["bu"]) for r in rows)
    assert got == [
        (601, 501, D("500.00"), "Phoenix-Production"),
        (602, 501, D("790.00"), "Phoenix-Production"),
        (602, 504, D("210.00"), "Tucson-Production"),
        (603, 505, D("400.00"), "unlinked"),
        (604, 504, D("1000.00"), "Tucson-Production"),
        (605, 507, D("100.00"), "unmapped"),
    ]


def test_dim_job_costs(built) -> None:
    labor = {r["job_id"]: r["labor_amount"] for r in _rows(built, "dim_job_labor", "dim")}
    assert labor == {11: D("425.00"), 12: D("50.00"), 13: D("990.00"), 18: D("600.00")}
    mats = {r["job_id"]: r["materials_amount"] for r in _rows(built, "dim_job_materials", "dim")}
    assert mats == {11: D("180.00"), 13: D("300.00")}


def test_inactive_records_are_in_raw_and_in_no_dim(built) -> None:
    # Fetched with active=Any, so a deactivated record is not taken for a deleted one, and
    # left out of the KPIs as ServiceTitan leaves it out of its own (docs/KPI_RULES.md).
    raw = {r["id"]: r["active"] for r in _rows(built, "estimates", "raw")}
    assert raw[311] is False and raw[301] is True
    assert 311 not in {r["estimate_id"] for r in _rows(built, "dim_estimates", "dim")}


def test_materials_without_tax_when_the_tenant_excludes_it(built) -> None:
    """ServiceTitan's "Tax Expenses In Costing" off: each document's tax comes off its total
    (shipping stays). Job 11: bill 951 140 - 10 + PO 902 60 - 4 - return 971 (20 - 1) = 167;
    job 13: bill 952 300 - 0 = 300."""
    client, settings, _ = built
    config = load_kpi_config(settings)
    try:
        build_seeds(client, settings, replace(config, materials_include_tax=False))
        _run_dim(client, settings, config, "dim_job_materials")
        mats = {r["job_id"]: r["materials_amount"]
                for r in _rows(built, "dim_job_materials", "dim")}  # fmt: skip
        assert mats == {11: D("167.00"), 13: D("300.00")}
    finally:  # the module's other tests read the default build
        build_seeds(client, settings, config)
        _run_dim(client, settings, config, "dim_job_materials")
    assert {r["job_id"]: r["materials_amount"] for r in _rows(built, "dim_job_materials", "dim")
            } == {11: D("180.00"), 13: D("300.00")}  # fmt: skip


def _run_dim(client, settings, config, table: str) -> None:
    sql = render(f"dims/{table}.sql", settings, report_tz=config.report_timezone)
    for stmt in statements(sql):
        client.query_and_wait(stmt)


def test_kpi_weekly_every_kpi_every_bu_every_week(built) -> None:
    rows = _rows(built, "kpi_weekly")
    got = {(r["kpi"], r["week_start"], r["bu"]): r for r in rows}
    assert len(got) == len(rows), "duplicate (kpi, week, bu) rows"
    expected = _expected()
    assert set(got) == set(expected)
    bad = []
    for key, (value, num, den) in expected.items():
        r = got[key]
        ok = _close(r["value"], value) and _close(r["numerator"], num)
        ok = ok and _close(r["denominator"], den) and r["region"] == REGIONS[key[2]]
        if not ok:
            bad.append((key, (r["value"], r["numerator"], r["denominator"]), (value, num, den)))
    assert not bad, "\n".join(map(str, bad))


def test_per_kpi_tables_match_the_long_table(built) -> None:
    expected = _expected()
    for kpi in KPIS:
        rows = _rows(built, f"kpi_{kpi}")
        assert {(kpi, r["week_start"], r["bu"]) for r in rows} == {
            k for k in expected if k[0] == kpi
        }, kpi
        for r in rows:
            assert isinstance(r["week_start"], dt.date) and r["week_start"].weekday() == 0
            if kpi in MONEY_KPIS:  # money rounded to cents
                assert r["value"] == r["value"].quantize(D("0.01"))


def test_gpm_says_materials_were_included(built) -> None:
    rows = _rows(built, "kpi_gpm")
    assert {r["materials_included"] for r in rows} == {True}
    w1 = next(r for r in rows if r["week_start"] == W1 and r["bu"] == "Phoenix-Production")
    assert (w1["labor"], w1["materials"]) == (D("475.00"), D("180.00"))


def test_region_rollup_is_ratio_of_sums(built) -> None:
    rows = {(r["week_start"], r["region"]): r for r in _rows(built, "kpi_weekly_region")}
    phx = rows[(W1, "PHX")]
    # GPM: (495 + 250) / (1150 + 850) = 745 / 2000 = 0.3725, not the mean of
    # 0.4304 and 0.2941 (0.3623).
    assert _close(phx["gpm"], D("0.3725"))
    # Warranty: (1 + 0) / (2 + 1) = 1/3, not the mean 0.25.
    assert _close(phx["warranty_pct"], D(1) / D(3))
    assert _close(phx["success_rate"], D(2) / D(3))  # Phoenix-Sales only
    assert phx["produced"] == D("2000.00")  # 1150 + 850
    assert phx["outstanding_ar"] == D("2290.00")  # 1440 + 850
    assert phx["leads"] == D(3)
    # Mesa region: Mesa-Sales only, no completed jobs -> NULL success rate.
    assert rows[(W2, "Mesa")]["success_rate"] is None
    assert rows[(W1, "unlinked")]["collected"] == D("400.00")
    assert (W2, "unlinked") not in rows


def test_kpi_weekly_bu_is_wide(built) -> None:
    rows = {(r["week_start"], r["bu"]): r for r in _rows(built, "kpi_weekly_bu")}
    ps = rows[(W1, "Phoenix-Sales")]
    assert ps["leads"] == D(3) and ps["total_booked"] == D("1500.00")
    assert ps["produced"] is None  # Production KPI not reported for a Sales BU
    pp = rows[(W1, "Phoenix-Production")]
    assert pp["produced"] == D("1150.00") and pp["leads"] is None


@pytest.fixture
def cli_env(built, bq_emulator, monkeypatch):
    for key, value in {**bq_emulator.env, "BQ_DATASET_PREFIX": "kpifx"}.items():
        monkeypatch.setenv(key, value)


def _cli(*args: str) -> str:
    from typer.testing import CliRunner

    from stkpi_tools.cli import app

    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_explain_lists_records_and_exclusions(cli_env) -> None:
    out = _cli("explain", "--kpi", "leads", "--bu", "Phoenix-Sales", "--week", "2025-08-18")
    assert "test customer" in out  # job 3 shown, with why it does not count
    for job in ("1", "2", "4", "8"):
        assert f"job {job}" in out or f"│ {job} " in out


def test_cli_diagnose_total_booked_shows_utc_trap(cli_env) -> None:
    # 303 ($2,000.50) was sold 2025-09-01T05:00Z: Sunday 08-31 in Phoenix, 09-01 in UTC.
    out = _cli("diagnose", "total-booked", "--date", "2025-08-31")
    assert "Phoenix-Sales" in out and "2000.50" in out


def test_cli_diagnose_invoice_links(cli_env) -> None:
    out = _cli("diagnose", "invoice-links")
    assert "unlinked" in out and "number" in out


def _contributions(built, kpi: str, bu: str, week: dt.date) -> list[dict]:
    from stkpi.kpi_config import sql_string
    from stkpi.sqlfiles import render

    client, settings, _ = built
    sql = render(
        "marts/explain/kpi_contributions.sql",
        settings,
        kpi=sql_string(kpi),
        bu=sql_string(bu),
        week_start=f"DATE '{week}'",
    )
    return [dict(r.items()) for r in client.query(sql.strip().rstrip(";")).result()]


def _counted(rows: list[dict]) -> dict[str, D]:
    return {r["record_id"]: D(r["amount"]) for r in rows if r["excluded_because"] is None}


def _excluded(rows: list[dict]) -> dict[str, str]:
    return {r["record_id"]: r["excluded_because"] for r in rows if r["excluded_because"]}


def test_explain_gpm_lists_each_completed_job_with_its_margin(built) -> None:
    rows = _contributions(built, "gpm", "Phoenix-Production", W1)
    # job 11: produced 1200 - 200 = 1000, labor 425, materials 180 -> 395;
    # job 12: produced 150, labor 50, no materials -> 100. 395 + 100 = the cell's 495.
    assert _counted(rows) == {"11": D("395.00"), "12": D("100.00")}
    assert "labor 425" in next(r["detail"] for r in rows if r["record_id"] == "11")


def test_explain_outstanding_ar_lists_open_invoices_as_of_sunday(built) -> None:
    rows = _contributions(built, "outstanding_ar", "Phoenix-Production", W2)
    # D2 = 08-31: 503 is unpaid (150, counts). 501 is paid in full and 506 is $0: not
    # listed. Credit memo 502 (-200) is shown, but floored at 0 and not netted.
    assert _counted(rows) == {"503": D("150.00")}
    assert _excluded(rows) == {"502": "credit balance: floored at 0, not netted"}


def test_explain_future_bookings_lists_the_backlog_and_why_not(built) -> None:
    rows = _contributions(built, "future_bookings", "Phoenix-Production", W1)
    # D1 = 08-24: 307 (job 14, sold 08-21, visit 406 on 09-02) counts 3000; 308's job 15
    # is Canceled. 309 was sold after D1: not listed.
    assert _counted(rows) == {"307": D("3000.00")}
    assert _excluded(rows) == {"308": "job Canceled"}


@pytest.mark.parametrize(
    "kpi", ["gpm", "future_bookings", "outstanding_ar", "produced", "collected", "total_booked"]
)
def test_explained_amounts_add_up_to_every_cell(built, kpi) -> None:
    """For every non-empty cell of the fixture, the counted records sum to the numerator."""
    cells = [r for r in _rows(built, f"kpi_{kpi}") if r["numerator"]]
    assert cells  # the fixture has some of each
    for cell in cells:
        rows = _contributions(built, kpi, cell["bu"], cell["week_start"])
        total = sum(_counted(rows).values(), D(0))
        assert _close(total, cell["numerator"]), (cell, rows)
