"""Sales renderers: estimates with their line items, invoices with their balances, payments.

An invoice's balance follows the payments visible at the clock, so paging a window shows
the balance its payments imply.
"""

from __future__ import annotations

import random
from typing import Any

from stkpi_tools.sim import catalog as cat
from stkpi_tools.sim.clock import iso
from stkpi_tools.sim.records.view import View, customer_name, invoice_total, job_number, money


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
    total = invoice_total(v, i)
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
