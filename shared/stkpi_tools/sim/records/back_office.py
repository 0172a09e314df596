"""Back-office renderers: payroll (gross pay items, adjustments) and purchasing (orders, bills,
returns).

A pay item's amount includes its later correction once that has happened; bills and
returns name their order's job unless they were booked without one.
"""

from __future__ import annotations

from typing import Any

from stkpi_tools.sim import catalog as cat
from stkpi_tools.sim.clock import DAY, iso, to_epoch
from stkpi_tools.sim.config import TIMELINE_START
from stkpi_tools.sim.records.view import View, money


def gross_pay_item(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["gross_pay_items"]
    c = t.cols
    jobs = v.tables["jobs"]
    j = int(c["job"][i])
    amount = int(c["amount"][i]) + (int(c["delta"][i]) if v.happened(c["edit_at"][i]) else 0)
    day = int(c["day"][i])
    return {
        "employeeId": v.id_of("technicians", c["employee"][i]),
        "employeeType": "Technician",
        "payrollId": 9_000 + (day - to_epoch(TIMELINE_START)) // (7 * DAY),  # weekly payrolls
        "date": iso(day),
        "activity": cat.PAY_ACTIVITIES[int(c["activity"][i])],
        "activityCodeId": v.id_of("activity_codes", int(c["activity"][i])),
        "amount": money(amount),
        "paidDurationHours": money(c["hours_x100"][i]),
        "paidTimeType": "Overtime" if c["activity"][i] else "Regular",
        "sourceEntityId": v.id_of("appointments", jobs.cols["last_appt"][j]),
        "sourceEntityType": "JobAppointment",
        "jobId": None if c["no_job"][i] else int(jobs.ids[j]),
        "invoiceId": v.id_of("invoices", c["invoice"][i]),
        "modifiedOn": iso(mod),
    }


def payroll_adjustment(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["payroll_adjustments"]
    c = t.cols
    return {
        "id": int(t.ids[i]),
        "employeeId": v.id_of("technicians", c["employee"][i]),
        "employeeType": "Technician",
        "postedOn": iso(t.birth[i]),
        "amount": money(c["amount"][i]),
        "memo": cat.ADJUSTMENT_MEMOS[int(c["memo"][i])],
        "jobId": v.id_of("jobs", c["job"][i]),
        "invoiceId": v.id_of("invoices", c["invoice"][i]),
        "modifiedOn": iso(mod),
    }


# Status columns, latest stage first
_PURCHASE_ORDER_STAGES: tuple[tuple[str, str], ...] = (
    ("cancel", "Canceled"),
    ("received", "Received"),
    ("sent", "Sent"),
)


def purchase_order(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["purchase_orders"]
    c = t.cols
    status = v.status(t, i, _PURCHASE_ORDER_STAGES, "Pending")
    return {
        "id": int(t.ids[i]),
        "number": f"PO-{int(t.ids[i]) - v.id_bases['purchase_orders']}",
        "jobId": v.id_of("jobs", c["job"][i]),
        "vendorId": 3_000 + int(t.ids[i]) % 17,
        "total": money(c["total"][i]),
        "date": iso(t.birth[i]),
        "status": status,
        "modifiedOn": iso(mod),
    }


def _po_job(v: View, po: int, no_job: bool) -> int | None:
    return None if no_job else v.id_of("jobs", v.tables["purchase_orders"].cols["job"][po])


def _po_document(v: View, entity: str, i: int, mod: int, /, **fields: Any) -> dict[str, Any]:
    """A bill or return of a purchase order: its id, the order and its job, ``fields``."""
    t = v.tables[entity]
    po = int(t.cols["po"][i])
    return {
        "id": int(t.ids[i]),
        "purchaseOrderId": v.id_of("purchase_orders", po),
        "jobId": _po_job(v, po, bool(t.cols["no_job"][i])),
        **fields,
        "modifiedOn": iso(mod),
    }


def inventory_bill(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["inventory_bills"]
    reference = f"B{int(t.ids[i]) % 1_000_000:06d}"
    total, billed = money(t.cols["total"][i]), iso(t.birth[i])
    return _po_document(
        v, "inventory_bills", i, mod, referenceNumber=reference, total=total, billDate=billed
    )


def return_(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["returns"]
    total, returned = money(t.cols["total"][i]), iso(t.birth[i])
    return _po_document(v, "returns", i, mod, total=total, returnDate=returned)
