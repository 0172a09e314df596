"""The registry is the contract between client, simulator, DDL and loaders."""

from __future__ import annotations

import re

import pytest

from stkpi.errors import PermanentError
from stkpi.raw_ddl import ddl_text
from stkpi.registry import ENTITIES, get_entity, record_key
from stkpi.rows import LINEAGE_COLUMNS, RAW_ONLY_COLUMNS, RecordError, to_row
from stkpi.windows import parse_ts

# Frozen on purpose: a change to an endpoint, key or partition must show up in review.
EXPECTED = {
    "jobs": ("/jpm/v2/tenant/{t}/jobs", ("id",), "created_on", 7),
    "appointments": ("/jpm/v2/tenant/{t}/appointments", ("id",), "created_on", 7),
    "invoices": ("/accounting/v2/tenant/{t}/invoices", ("id",), "created_on", 7),
    "estimates": ("/sales/v2/tenant/{t}/estimates", ("id",), "created_on", 180),
    "payments": ("/accounting/v2/tenant/{t}/payments", ("id",), "created_on", 7),
    "gross_pay_items": ("/payroll/v2/tenant/{t}/gross-pay-items", ("item_key",), "item_date", 7),
    "payroll_adjustments": ("/payroll/v2/tenant/{t}/payroll-adjustments", ("id",), "posted_on", 7),
    "customers": ("/crm/v2/tenant/{t}/customers", ("id",), "created_on", 7),
    "locations": ("/crm/v2/tenant/{t}/locations", ("id",), "created_on", 7),
    "purchase_orders": ("/inventory/v2/tenant/{t}/purchase-orders", ("id",), "po_date", 7),
    "inventory_bills": ("/accounting/v2/tenant/{t}/inventory-bills", ("id",), "bill_date", 7),
    "returns": ("/inventory/v2/tenant/{t}/returns", ("id",), "return_date", 7),
    "business_units": ("/settings/v2/tenant/{t}/business-units", ("id",), None, 7),
    "technicians": ("/settings/v2/tenant/{t}/technicians", ("id",), None, 7),
    "job_types": ("/jpm/v2/tenant/{t}/job-types", ("id",), None, 7),
    "activity_codes": ("/payroll/v2/tenant/{t}/activity-codes", ("id",), None, 7),
    "campaigns": ("/marketing/v2/tenant/{t}/campaigns", ("id",), None, 7),
}


def test_registry_snapshot() -> None:
    actual = {e.name: (e.path("{t}"), e.key, e.partition_field, e.lookback_days) for e in ENTITIES}
    assert actual == EXPECTED


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_raw_ddl_has_the_registry_columns_then_the_audit_columns(entity) -> None:
    ddl = ddl_text(entity)
    body = ddl[ddl.index("(") + 1 : ddl.rindex(")")]
    declared = re.findall(r"^\s+(\w+)\s+(\w+)", body, flags=re.M)
    expected = [(c.name, c.type) for c in entity.columns] + [*LINEAGE_COLUMNS, *RAW_ONLY_COLUMNS]
    assert declared == expected
    if entity.partition_field:
        assert f"PARTITION BY DATE({entity.partition_field})" in ddl


def test_unknown_entity_lists_known_names() -> None:
    with pytest.raises(PermanentError, match=r"unknown entity 'jobz'.*jobs"):
        get_entity("jobz")


def test_invoice_job_link_read_from_either_shape() -> None:
    invoices = get_entity("invoices")
    base = {"id": 1, "createdOn": "2025-01-01T00:00:00Z", "modifiedOn": "2025-01-01T00:00:00Z"}
    nested = to_row(invoices, {**base, "job": {"id": 7, "number": "J7"}}, **_lineage())
    flat = to_row(invoices, {**base, "jobId": 7, "jobNumber": "J7"}, **_lineage())
    number_only = to_row(invoices, {**base, "job": {"number": "J7"}}, **_lineage())
    assert (nested["job_id"], nested["job_number"]) == (7, "J7")
    assert (flat["job_id"], flat["job_number"]) == (7, "J7")
    assert (number_only["job_id"], number_only["job_number"]) == (None, "J7")


def test_gross_pay_item_key_ignores_amount_and_modified_on() -> None:
    items = get_entity("gross_pay_items")
    item = {
        "employeeId": 4,
        "payrollId": 9,
        "sourceEntityId": 100,
        "sourceEntityType": "Job",
        "activity": "Labor",
        "date": "2025-08-18T00:00:00Z",
        "jobId": 100,
        "amount": 120.5,
        "modifiedOn": "2025-08-19T00:00:00Z",
    }
    edited = {**item, "amount": 99.0, "modifiedOn": "2025-08-25T00:00:00Z"}
    other_activity = {**item, "activity": "Overtime"}
    assert record_key(items, item) == record_key(items, edited)
    assert record_key(items, item) != record_key(items, other_activity)


def test_money_stays_decimal_text() -> None:
    row = to_row(
        get_entity("invoices"),
        {"id": 1, "subTotal": 0.1, "total": "30241.51", "modifiedOn": "2025-01-01T00:00:00Z"},
        **_lineage(),
    )
    assert row["sub_total"] == "0.1"
    assert row["total"] == "30241.51"


def test_bad_typed_value_names_the_column() -> None:
    with pytest.raises(RecordError, match=r"customer_id .*'abc'"):
        to_row(get_entity("jobs"), {"id": 1, "customerId": "abc"}, **_lineage())


def _lineage() -> dict:
    return {
        "run_id": "r1",
        "window_id": "w1",
        "page": 1,
        "ingested_at": parse_ts("2025-01-01T00:00:00Z"),
    }
