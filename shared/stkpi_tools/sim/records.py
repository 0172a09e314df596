"""Render one record as the API's JSON dict, on demand, from the tenant's arrays.

State is evaluated as of the tenant's clock (an estimate is ``Sold`` once its sale time has
passed), so a record's content always matches its visible ``modifiedOn``. Decoration that
nothing refers to (names, line items) comes from a per-record RNG seeded by
``(seed, entity, id)``: the same record renders identically on every call and page.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from stkpi_tools.sim import catalog as cat
from stkpi_tools.sim.clock import DAY, NEVER, iso, to_epoch
from stkpi_tools.sim.config import TIMELINE_START
from stkpi_tools.sim.generate.timeline import JOB_NUMBER_BASE
from stkpi_tools.sim.tables import Table


def money(cents: int | np.integer) -> float:
    """Cents as a 2-dp number (1234.5, 1234.56): sums stay exact when read as decimals."""
    return round(int(cents) / 100, 2)


@dataclass(frozen=True)
class View:
    """What a renderer sees: all tables, the clock, the seed, and the entities' codes and
    first ids (``stkpi_tools.sim.entities``)."""

    tables: dict[str, Table]
    now: int
    seed: int
    codes: Mapping[str, int]
    id_bases: Mapping[str, int]

    def rng(self, name: str, record_id: int) -> random.Random:
        return random.Random((self.seed * 1_000 + self.codes[name]) * 10**12 + int(record_id))

    def id_of(self, name: str, index: int | np.integer) -> int | None:
        return None if index < 0 else int(self.tables[name].ids[index])

    def happened(self, when: int | np.integer) -> bool:
        return int(when) != NEVER and int(when) <= self.now


Renderer = Callable[[View, int, int], dict[str, Any]]


def _person(r: random.Random) -> str:
    return f"{r.choice(cat.FIRST_NAMES)} {r.choice(cat.LAST_NAMES)}"


def job_number(index: int | np.integer) -> str:
    return str(JOB_NUMBER_BASE + int(index))


def business_unit(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["business_units"]
    name = cat.BUSINESS_UNITS[i][0]
    return {"id": int(t.ids[i]), "name": name, "officialName": name,
            "active": bool(t.active[i]), "modifiedOn": iso(mod)}  # fmt: skip


def technician(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["technicians"]
    r = v.rng("technicians", t.ids[i])
    return {
        "id": int(t.ids[i]),
        "name": _person(r),
        "businessUnitId": v.id_of("business_units", t.cols["bu"][i]),
        "active": bool(t.active[i]),
        "modifiedOn": iso(mod),
    }


def job_type(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["job_types"]
    return {"id": int(t.ids[i]), "name": cat.JOB_TYPES[i][0],
            "active": bool(t.active[i]), "modifiedOn": iso(mod)}  # fmt: skip


def activity_code(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["activity_codes"]
    code, name, _ = cat.ACTIVITY_CODES[i]
    return {"id": int(t.ids[i]), "code": code, "name": name,
            "active": bool(t.active[i]), "modifiedOn": iso(mod)}  # fmt: skip


def campaign(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["campaigns"]
    return {"id": int(t.ids[i]), "name": cat.CAMPAIGNS[i][0],
            "active": bool(t.active[i]), "modifiedOn": iso(mod)}  # fmt: skip


def customer_name(v: View, i: int) -> str:
    t = v.tables["customers"]
    r = v.rng("customers", t.ids[i])
    if t.cols["test"][i]:
        return r.choice(("Test ", "TEST - ", "test ")) + r.choice(cat.LAST_NAMES)
    if t.cols["commercial"][i]:
        return f"{r.choice(cat.COMPANY_WORDS)} {r.choice(cat.COMPANY_KINDS)}"
    return _person(r)


def customer(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["customers"]
    return {
        "id": int(t.ids[i]),
        "name": customer_name(v, i),
        "type": "Commercial" if t.cols["commercial"][i] else "Residential",
        "active": bool(t.active[i]),
        "balance": 0.0,
        "createdOn": iso(t.birth[i]),
        "modifiedOn": iso(mod),
    }


def location(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["locations"]
    c = int(t.cols["customer"][i])
    region = int(v.tables["customers"].cols["region"][c])
    r = v.rng("locations", t.ids[i])
    street = f"{r.randint(100, 9999)} {r.choice(cat.STREETS)}"
    return {
        "id": int(t.ids[i]),
        "customerId": v.id_of("customers", c),
        "name": customer_name(v, c),
        "address": {
            "street": street,
            "city": r.choice(cat.CITIES[region]),
            "state": "NV" if region == 2 else "AZ",
            "zip": f"{(89100 if region == 2 else 85000) + r.randint(1, 99):05d}",
            "country": "USA",
        },
        "active": bool(t.active[i]),
        "createdOn": iso(t.birth[i]),
        "modifiedOn": iso(mod),
    }


def _invoice_total(v: View, inv: int) -> int:
    t = v.tables["invoices"]
    return int(t.cols["sub"][inv] + t.cols["tax"][inv])


def job(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["jobs"]
    c = t.cols
    if v.happened(c["t1"][i]):
        status = cat.JOB_OUTCOMES[int(c["outcome"][i])]
    elif c["outcome"][i] != 1 and v.happened(c["start1"][i]):
        status = "InProgress"
    else:
        status = "Scheduled"
    inv = int(c["first_invoice"][i])
    has_total = inv >= 0 and v.happened(v.tables["invoices"].birth[inv])
    return {
        "id": int(t.ids[i]),
        "number": job_number(i),
        "customerId": v.id_of("customers", c["customer"][i]),
        "locationId": v.id_of("locations", c["location"][i]),
        "businessUnitId": v.id_of("business_units", c["bu"][i]),
        "jobTypeId": v.id_of("job_types", c["job_type"][i]),
        "jobStatus": status,
        "completedOn": iso(c["t1"][i]) if status == "Completed" else None,
        "campaignId": v.id_of("campaigns", c["campaign"][i]),
        "soldById": v.id_of("technicians", c["sold_by"][i]),
        "total": money(_invoice_total(v, inv)) if has_total else 0.0,
        "createdOn": iso(t.birth[i]),
        "modifiedOn": iso(mod),
    }


def appointment(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["appointments"]
    c = t.cols
    if v.happened(c["cancel"][i]):
        status = "Canceled"
    elif v.happened(c["done"][i]):
        status = "Done"
    elif v.happened(c["start"][i]):
        status = "Working"
    elif v.happened(c["dispatched"][i]):
        status = "Dispatched"
    else:
        status = "Scheduled"
    return {
        "id": int(t.ids[i]),
        "jobId": v.id_of("jobs", c["job"][i]),
        "appointmentNumber": f"{job_number(c['job'][i])}-{int(t.ids[i]) % 97}",
        "start": iso(c["start"][i]),
        "end": iso(c["end"][i]),
        "status": status,
        "createdOn": iso(t.birth[i]),
        "modifiedOn": iso(mod),
    }


def _split(r: random.Random, cents: int, parts: int) -> list[int]:
    cuts = sorted(r.randint(1, max(1, cents - 1)) for _ in range(parts - 1))
    bounds = [0, *cuts, cents]
    return [bounds[k + 1] - bounds[k] for k in range(parts)]


def estimate(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["estimates"]
    c = t.cols
    sold = v.happened(c["sold_at"][i])
    if v.happened(c["dismissed_at"][i]):
        status = (2, "Dismissed")
    elif sold:
        status = (1, "Sold")
    else:
        status = (0, "Open")
    r = v.rng("estimates", t.ids[i])
    subtotal = int(c["subtotal"][i])
    skus = ("Interior Repaint", "Exterior Repaint", "Cabinet Refinish", "Epoxy Garage Floor",
            "Trim & Doors", "Stucco Repair", "Prep & Prime")  # fmt: skip
    items = [
        {
            "sku": {"name": r.choice(skus)},
            "description": "Labor and materials",
            "qty": 1.0,
            "unitRate": money(part),
            "total": money(part),
        }
        for part in _split(r, subtotal, r.randint(1, 3))
    ]
    return {
        "id": int(t.ids[i]),
        "jobId": v.id_of("jobs", c["job"][i]),
        "name": f"Option {r.randint(1, 3)}",
        "status": {"value": status[0], "name": status[1]},
        "soldOn": iso(c["sold_at"][i]) if sold else None,
        "soldBy": v.id_of("technicians", c["sold_by"][i]) if sold else None,
        "subtotal": money(subtotal),
        "tax": money(c["tax"][i]),
        "total": money(subtotal + int(c["tax"][i])),
        "items": items,
        "active": True,
        "createdOn": iso(t.birth[i]),
        "modifiedOn": iso(mod),
    }


def invoice(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["invoices"]
    c = t.cols
    jobs = v.tables["jobs"]
    j = int(c["job"][i])
    total = _invoice_total(v, i)
    paid = sum(
        int(c["pay_amt"][i, s])
        for s in range(2)
        if c["pay"][i, s] >= 0 and v.happened(v.tables["payments"].birth[c["pay"][i, s]])
    )
    bu = int(jobs.cols["bu"][j])
    cust = int(jobs.cols["customer"][j])
    record: dict[str, Any] = {
        "id": int(t.ids[i]),
        "number": str(int(t.ids[i]) - v.id_bases["invoices"]),
        "invoiceDate": iso(t.birth[i]),
        "subTotal": money(c["sub"][i]),
        "salesTax": money(c["tax"][i]),
        "total": money(total),
        "balance": money(total - paid),
    }
    link = int(c["link"][i])
    job_id, number = int(jobs.ids[j]), job_number(j)
    job_type = cat.JOB_TYPES[int(jobs.cols["job_type"][j])][0]
    if link == 0:
        record["job"] = {"id": job_id, "number": number, "type": job_type}
    elif link == 1:
        record["job"] = None
    elif link == 2:
        record["job"] = {"id": None, "number": number, "type": None}
    else:
        record["jobId"], record["jobNumber"] = job_id, number
    record["businessUnit"] = {
        "id": v.id_of("business_units", bu),
        "name": cat.BUSINESS_UNITS[bu][0],
    }
    record["customer"] = {"id": v.id_of("customers", cust), "name": customer_name(v, cust)}
    record["active"] = True
    record["createdOn"] = iso(t.birth[i])
    record["modifiedOn"] = iso(mod)
    return record


def payment(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["payments"]
    c = t.cols
    applied = [
        {"appliedTo": v.id_of("invoices", c["inv_a"][i]), "appliedAmount": money(c["amt_a"][i])}
    ]
    if c["inv_b"][i] >= 0:
        applied.append(
            {"appliedTo": v.id_of("invoices", c["inv_b"][i]), "appliedAmount": money(c["amt_b"][i])}
        )
    return {
        "id": int(t.ids[i]),
        "paidOn": iso(c["paid"][i]),
        "type": cat.PAYMENT_TYPES[int(c["type"][i])],
        "total": money(int(c["amt_a"][i]) + int(c["amt_b"][i])),
        "appliedTo": applied,
        "active": True,
        "createdOn": iso(t.birth[i]),
        "modifiedOn": iso(mod),
    }


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


def purchase_order(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["purchase_orders"]
    c = t.cols
    if v.happened(c["cancel"][i]):
        status = "Canceled"
    elif v.happened(c["received"][i]):
        status = "Received"
    elif v.happened(c["sent"][i]):
        status = "Sent"
    else:
        status = "Pending"
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


def inventory_bill(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["inventory_bills"]
    po = int(t.cols["po"][i])
    return {
        "id": int(t.ids[i]),
        "purchaseOrderId": v.id_of("purchase_orders", po),
        "jobId": _po_job(v, po, bool(t.cols["no_job"][i])),
        "referenceNumber": f"B{int(t.ids[i]) % 1_000_000:06d}",
        "total": money(t.cols["total"][i]),
        "billDate": iso(t.birth[i]),
        "modifiedOn": iso(mod),
    }


def return_(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["returns"]
    po = int(t.cols["po"][i])
    return {
        "id": int(t.ids[i]),
        "purchaseOrderId": v.id_of("purchase_orders", po),
        "jobId": _po_job(v, po, bool(t.cols["no_job"][i])),
        "total": money(t.cols["total"][i]),
        "returnDate": iso(t.birth[i]),
        "modifiedOn": iso(mod),
    }
