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
from stkpi_tools.sim.records.view import View, job_number, money, money_text

# One gross-pay item in this many comes without an id (the spec makes it nullable): the
# pipeline keys those by a hash of their identifying fields.
GROSS_PAY_ITEMS_WITHOUT_ID = 50
GROSS_PAY_ITEM_ID_BASE = 88_000_000


def gross_pay_item(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["gross_pay_items"]
    c = t.cols
    jobs = v.tables["jobs"]
    j = int(c["job"][i])
    amount = int(c["amount"][i]) + (int(c["delta"][i]) if v.happened(c["edit_at"][i]) else 0)
    day = int(c["day"][i])
    overtime = bool(c["activity"][i])
    index = int(t.ids[i])
    return {
        "id": None if index % GROSS_PAY_ITEMS_WITHOUT_ID == 0 else GROSS_PAY_ITEM_ID_BASE + index,
        "employeeId": v.id_of("technicians", c["employee"][i]),
        "employeeType": "Technician",
        "payrollId": 9_000 + (day - to_epoch(TIMELINE_START)) // (7 * DAY),  # weekly payrolls
        "date": iso(day),
        "activity": cat.PAY_ACTIVITIES[int(c["activity"][i])],
        "activityCodeId": v.id_of("activity_codes", int(c["activity"][i])),
        "amount": money(amount),
        "grossPayItemType": "TimesheetTime",
        "paidDurationHours": money(c["hours_x100"][i]),
        "paidTimeType": "Overtime" if overtime else "Regular",
        "sourceEntityId": v.id_of("appointments", jobs.cols["last_appt"][j]),
        "jobId": int(jobs.ids[j]),
        "jobNumber": job_number(j),
        "invoiceId": v.id_of("invoices", c["invoice"][i]),
        "active": True,  # exports only (conform drops it from the list's records)
        "createdOn": iso(t.birth[i]),
        "modifiedOn": iso(mod),
    }


def payroll_adjustment(v: View, i: int, mod: int) -> dict[str, Any]:
    """An adjustment names no job (the spec has no jobId): one made for a job's work names
    that job's first invoice, so it reaches the job through it, as on ServiceTitan."""
    t = v.tables["payroll_adjustments"]
    c = t.cols
    invoice = int(c["invoice"][i])
    job = int(c["job"][i])
    if invoice < 0 and job >= 0:
        # the same invoice at every clock (a record's content changes only with a version)
        invoice = int(v.tables["jobs"].cols["first_invoice"][job])
    return {
        "id": int(t.ids[i]),
        "employeeId": v.id_of("technicians", c["employee"][i]),
        "employeeType": "Technician",
        "postedOn": iso(t.birth[i]),
        "amount": money(c["amount"][i]),
        "memo": cat.ADJUSTMENT_MEMOS[int(c["memo"][i])],
        "invoiceId": v.id_of("invoices", invoice),
        "type": "Direct",
        "active": v.active("payroll_adjustments", i),
        "createdOn": iso(t.birth[i]),
        "modifiedOn": iso(mod),
    }


# Status columns, latest stage first
_PURCHASE_ORDER_STAGES: tuple[tuple[str, str], ...] = (
    ("cancel", "Canceled"),
    ("received", "Received"),
    ("sent", "Sent"),
)
TAX_RATE_PER_MILLE = 86  # Arizona's 8.6%, on a document's items


def _tax_and_shipping(record_id: int, total_cents: int) -> tuple[int, int]:
    """The tax and shipping inside a purchasing document's total (ServiceTitan's totals
    include both): shipping on one document in five, tax on what is left."""
    shipping = min(1_500, total_cents // 10) if record_id % 5 == 0 else 0
    tax = round((total_cents - shipping) * TAX_RATE_PER_MILLE / (1_000 + TAX_RATE_PER_MILLE))
    return tax, shipping


def purchase_order(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["purchase_orders"]
    c = t.cols
    status = v.status(t, i, _PURCHASE_ORDER_STAGES, "Pending")
    total = int(c["total"][i])
    tax, shipping = _tax_and_shipping(int(t.ids[i]), total)
    return {
        "id": int(t.ids[i]),
        "number": f"PO-{int(t.ids[i]) - v.id_bases['purchase_orders']}",
        "jobId": v.id_of("jobs", c["job"][i]),
        "vendorId": 3_000 + int(t.ids[i]) % 17,
        "total": money(total),
        "tax": money(tax),
        "shipping": money(shipping),
        "date": iso(t.birth[i]),
        "status": status,
        "createdOn": iso(t.birth[i]),
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
        "createdOn": iso(t.birth[i]),
        "modifiedOn": iso(mod),
    }


def inventory_bill(v: View, i: int, mod: int) -> dict[str, Any]:
    """A bill's amount is its total, tax and shipping included (as a return's and an
    order's are: KPI_RULES.md, GPM materials); accounting money is a decimal string."""
    t = v.tables["inventory_bills"]
    reference = f"B{int(t.ids[i]) % 1_000_000:06d}"
    total = int(t.cols["total"][i])
    tax, shipping = _tax_and_shipping(int(t.ids[i]), total)
    return _po_document(
        v, "inventory_bills", i, mod, referenceNumber=reference, billDate=iso(t.birth[i]),
        billAmount=money_text(total), taxAmount=money_text(tax),
        shippingAmount=money_text(shipping),
        active=True,  # exports only (conform drops it from the list's records)
    )  # fmt: skip


def return_(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["returns"]
    total = int(t.cols["total"][i])
    tax, shipping = _tax_and_shipping(int(t.ids[i]), total)
    return _po_document(
        v, "returns", i, mod, number=f"R-{int(t.ids[i]) - v.id_bases['returns']}",
        referenceNumber=f"RMA{int(t.ids[i]) % 100_000:05d}", status="Returned",
        vendorId=3_000 + int(t.ids[i]) % 17, returnDate=iso(t.birth[i]),
        returnAmount=money(total), taxAmount=money(tax), shippingAmount=money(shipping),
        active=v.active("returns", i),
    )  # fmt: skip
