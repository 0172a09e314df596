"""KPIs move by exactly the deleted records' amounts: the fixture tenant of
test_kpi_marts with three records marked deleted in raw (as the key scan marks them,
stkpi.key_scan), dims and marts rebuilt, every cell compared with the hand-computed
expectations of test_kpi_marts adjusted by hand below.

Deleted: estimate 301 (Sold $1,500.00, job 1, Phoenix-Sales, sold W1), payment 602 ($790.00
on invoice 501 + $210.00 on invoice 504, paid 2025-08-29 = W2) and appointment 409 (job 2,
Phoenix-Sales, W1). Nothing else may move.
"""

from __future__ import annotations

import pytest
import test_kpi_marts as base
from kpi_tenant import W1, W2, W3, load_tenant

from stkpi.kpi_config import load_kpi_config
from stkpi.marts import build_marts
from stkpi.warehouse import ensure_tables

pytestmark = pytest.mark.integration

DELETED = {"estimates": [301], "payments": [602], "appointments": [409]}


@pytest.fixture(scope="module")
def rows(bq_emulator) -> list[dict]:
    client = bq_emulator.client
    settings = bq_emulator.settings.model_copy(update={"bq_dataset_prefix": "kpidel"})
    ensure_tables(client, settings)
    load_tenant(client, settings)
    raw = f"{settings.gcp_project}.{settings.dataset('raw')}"
    for table, ids in DELETED.items():  # what sql/stage/mark_deleted.sql writes
        client.query(
            f"UPDATE `{raw}.{table}` SET deleted_at = TIMESTAMP '2025-09-08T00:00:00Z' "
            f"WHERE id IN ({', '.join(map(str, ids))})"
        ).result()
    build_marts(client, settings, load_kpi_config(settings))
    mart = f"{settings.gcp_project}.{settings.dataset('mart')}.kpi_weekly"
    return [dict(r.items()) for r in client.query(f"SELECT * FROM `{mart}`").result()]


def _expected_after_deletes() -> dict:
    exp = base._expected()

    def money(kpi, week, bu, amount):
        exp[(kpi, week, bu)] = (base.D(amount), base.D(amount), None)

    # Estimate 301: Total Booked W1 Phoenix-Sales was 301 alone ($1,500.00; 304 is the test
    # customer's) -> 0.00. Estimates W1 Phoenix-Sales 4 -> 3 (302, 303, 310). Success Rate
    # W1 Phoenix-Sales: job 1 was closed by 301 (Sold); its other estimate 302 is Open, so
    # job 1 is open now: closed jobs 2 (303 Sold) only -> 1 / 3 (jobs 1, 2, 8).
    money("total_booked", W1, "Phoenix-Sales", "0.00")
    exp[("estimates", W1, "Phoenix-Sales")] = (base.D(3), base.D(3), None)
    exp[("success_rate", W1, "Phoenix-Sales")] = (base.D(1) / base.D(3), base.D(1), base.D(3))
    # Appointment 409: Estimates Scheduled W1 Phoenix-Sales was 401 + 409 -> 1.
    exp[("estimates_scheduled", W1, "Phoenix-Sales")] = (base.D(1), base.D(1), None)
    # Payment 602 (paid W2): Collected W2 Phoenix-Production 500 (601) + 790 -> 500.00;
    # W2 Tucson-Production 210 + 1000 (604) -> 1000.00.
    money("collected", W2, "Phoenix-Production", "500.00")
    money("collected", W2, "Tucson-Production", "1000.00")
    # Outstanding A/R from D2 on: invoice 501 keeps 1290 - 500 = 790 open (was 0), so
    # Phoenix-Production 150 + 790 = 940.00 at D2 and D3; invoice 504 keeps 2675 - 1000 =
    # 1675 (was 1465): Tucson-Production 1675 + 509's 100 = 1775.00 at D2, + 508's 1250 =
    # 3025.00 at D3. D1 is before 602 was paid: unchanged.
    money("outstanding_ar", W2, "Phoenix-Production", "940.00")
    money("outstanding_ar", W3, "Phoenix-Production", "940.00")
    money("outstanding_ar", W2, "Tucson-Production", "1775.00")
    money("outstanding_ar", W3, "Tucson-Production", "3025.00")
    return exp


def test_kpis_move_by_exactly_the_deleted_records(rows: list[dict]) -> None:
    got = {(r["kpi"], r["week_start"], r["bu"]): r for r in rows}
    expected = _expected_after_deletes()
    assert set(got) == set(expected)
    bad = [
        (key, (got[key]["value"], got[key]["numerator"], got[key]["denominator"]), want)
        for key, want in expected.items()
        if not (
            base._close(got[key]["value"], want[0])
            and base._close(got[key]["numerator"], want[1])
            and base._close(got[key]["denominator"], want[2])
        )
    ]
    assert not bad, "\n".join(map(str, bad))
    # and the cells that moved are exactly the ones adjusted above
    moved = {k for k, v in expected.items() if v != base._expected()[k]}
    assert len(moved) == 10
