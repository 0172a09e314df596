"""The registry is the contract between client, simulator, DDL and loaders."""

from __future__ import annotations

import re

import pytest

from stkpi.errors import PermanentError
from stkpi.raw_ddl import ddl_text
from stkpi.registry import ENTITIES, get_entity, record_key
from stkpi.rows import LINEAGE_COLUMNS, RAW_ONLY_COLUMNS, RecordError, decimal_text, to_row
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


def test_invoice_job_link_is_read_from_the_nested_job() -> None:
    # ServiceTitan's spec: an invoice names its job as job: {id, number, type} | null (no
    # top-level jobId or jobNumber).
    invoices = get_entity("invoices")
    base = {"id": 1, "createdOn": "2025-01-01T00:00:00Z", "modifiedOn": "2025-01-01T00:00:00Z"}
    nested = to_row(invoices, {**base, "job": {"id": 7, "number": "J7"}}, **_lineage())
    lost = to_row(invoices, {**base, "job": None}, **_lineage())
    assert (nested["job_id"], nested["job_number"]) == (7, "J7")
    assert (lost["job_id"], lost["job_number"]) == (None, None)


def test_gross_pay_item_is_keyed_by_its_id_else_by_a_hash_of_what_never_changes() -> None:
    items = get_entity("gross_pay_items")
    item = {
        "id": None,
        "employeeId": 4,
        "payrollId": 9,
        "grossPayItemType": "TimesheetTime",
        "sourceEntityId": 100,
        "activityCodeId": 301,
        "date": "2025-08-18T00:00:00Z",
        "jobId": 100,
        "amount": 120.5,
        "modifiedOn": "2025-08-19T00:00:00Z",
    }
    edited = {**item, "amount": 99.0, "modifiedOn": "2025-08-25T00:00:00Z"}
    other_activity = {**item, "activityCodeId": 302}
    # Without an id: a hash of the identifying fields, the same after an edit of the amount.
    assert record_key(items, item).startswith("h")
    assert record_key(items, item) == record_key(items, edited)
    assert record_key(items, item) != record_key(items, other_activity)
    # With one: the id, whatever else changes.
    assert record_key(items, {**item, "id": 5501}) == "5501"
    assert record_key(items, {**edited, "id": 5501, "activityCodeId": 302}) == "5501"
    row = to_row(items, {**item, "id": 5501}, **_lineage())
    assert row["item_key"] == "5501"


def test_money_stays_decimal_text() -> None:
    row = to_row(
        get_entity("invoices"),
        {"id": 1, "subTotal": 0.1, "total": "30241.51", "modifiedOn": "2025-01-01T00:00:00Z"},
        **_lineage(),
    )
    assert row["sub_total"] == "0.1"
    assert row["total"] == "30241.51"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("1234.50", "1234.50"), ("-0.01", "-0.01"), ("30241.51", "30241.51"), (0.1, "0.1"),
     (1e16, "10000000000000000"), (12, "12"), ("99999999999.99", "99999999999.99")],
)  # fmt: skip
def test_money_is_read_exactly(sent: object, kept: str) -> None:
    # Accounting money arrives as decimal strings, read digit for digit; a JSON number's
    # shortest representation gives back what was sent.
    assert decimal_text(sent) == kept


@pytest.mark.parametrize("sent", ["NaN", "1e5", "1,234.50", "", True, float("inf"), "0.1234567891"])
def test_money_that_is_not_a_plain_decimal_is_refused_with_its_column(sent: object) -> None:
    with pytest.raises(RecordError, match=r"column total \(NUMERIC\)"):
        to_row(get_entity("payments"), {"id": 1, "total": sent}, **_lineage())


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
