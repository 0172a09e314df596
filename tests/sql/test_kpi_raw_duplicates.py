"""GPM counts every labor and materials record once, even if raw held a key twice.

Raw holds one row per key (tests/integration/test_raw_invariant.py proves the MERGE keeps
it; ``pipeline.duplicate_keys`` turns RED if it ever breaks). A MERGE pruned on a business
date once left a second copy of an edited record beside the first, and the labor and
materials dims summed both. Here the fixture tenant of test_kpi_marts is loaded with a
second copy of records of every entity GPM sums: exact copies of a purchase order, an
inventory bill, a return and a payroll adjustment (a replayed version), and an older
version of a gross-pay item with another amount. Every KPI cell must still be the
hand-computed expectation of test_kpi_marts (GPM W1 Phoenix-Production: labor 475.00,
materials 180.00).
"""

from __future__ import annotations

import copy

import pytest
import test_kpi_marts as base
from kpi_tenant import TENANT, W1, load_tenant

from stkpi.kpi_config import load_kpi_config
from stkpi.marts import build_marts
from stkpi.warehouse import ensure_tables

pytestmark = pytest.mark.integration


def _with_second_copies() -> dict[str, list[dict]]:
    tenant = copy.deepcopy(TENANT)
    for name in ("purchase_orders", "inventory_bills", "returns", "payroll_adjustments"):
        tenant[name].append(copy.deepcopy(tenant[name][0]))  # the same version twice
    stale = copy.deepcopy(tenant["gross_pay_items"][0])  # employee 1, $300.00 on job 11
    stale["amount"] = "999.00"
    stale["modifiedOn"] = "2025-08-01T00:00:00Z"  # older than the item's current version
    tenant["gross_pay_items"].append(stale)
    return tenant


@pytest.fixture(scope="module")
def rows(bq_emulator) -> list[dict]:
    client = bq_emulator.client
    settings = bq_emulator.settings.model_copy(update={"bq_dataset_prefix": "kpidup"})
    ensure_tables(client, settings)
    load_tenant(client, settings, _with_second_copies())
    build_marts(client, settings, load_kpi_config(settings))
    mart = f"{settings.gcp_project}.{settings.dataset('mart')}.kpi_gpm"
    return [dict(r.items()) for r in client.query(f"SELECT * FROM `{mart}`").result()]


def test_gpm_counts_a_record_held_twice_in_raw_once(rows) -> None:
    w1 = next(r for r in rows if r["week_start"] == W1 and r["bu"] == "Phoenix-Production")
    # The expectations of test_kpi_marts.test_gpm_says_materials_were_included: the
    # second copies (PO 901, bill 951, return 971, adjustment 801, and the older $999.00
    # version of employee 1's $300.00 item on job 11) add nothing.
    assert (w1["labor"], w1["materials"]) == (base.D("475.00"), base.D("180.00"))
