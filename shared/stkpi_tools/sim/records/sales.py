"""Sales renderers: estimates with their line items, invoices with their balances, payments.

An invoice's balance follows the payments visible at the clock, so paging a window shows
the balance its payments imply.
"""

from __future__ import annotations

import random
from typing import Any

from stkpi_tools.sim import catalog as cat
from stkpi_tools.sim.clock import iso
from stkpi_tools.sim.records.view import (
    View,
    customer_name,
    invoice_total,
    job_number,
    money,
    money_text,
)
from stkpi_tools.sim.shapes import nested

# An invoice whose job link names a job id the tenant does not have (a merged or purged
# job) but the right number: the KPIs link it by number. Below every id the tenant serves.
STALE_JOB_ID_BASE = 30_000_000


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
    created = iso(t.birth[i])
    item_base = nested("sales", "Estimates.V2.EstimateItemResponse")
    sku_base = nested("sales", "Estimates.V2.SkuModel")
    items = []
    for n, part in enumerate(_split(r, subtotal, r.randint(1, 3))):
        name = r.choice(skus)
        items.append({
            **item_base,
            "id": int(t.ids[i]) * 10 + n,
            "sku": {**sku_base, "id": 5_000 + skus.index(name), "name": name,
                    "displayName": name, "type": "Service", "modifiedOn": created},
            "description": "Labor and materials",
            "qty": 1.0,
            "unitRate": money(part),
            "total": money(part),
            "createdOn": created,
            "modifiedOn": created,
        })  # fmt: skip
    j = int(c["job"][i])
    return {
        "id": int(t.ids[i]),
        "jobId": v.id_of("jobs", j),
        "jobNumber": job_number(j),
        "name": f"Option {r.randint(1, 3)}",
        "status": {"value": status[0], "name": status[1]},
        "soldOn": iso(c["sold_at"][i]) if sold else None,
        "soldBy": v.id_of("technicians", c["sold_by"][i]) if sold else None,
        "subtotal": money(subtotal),
        "tax": money(c["tax"][i]),
        "items": items,
        "active": v.active("estimates", i),
        "createdOn": created,
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
        "referenceNumber": str(int(t.ids[i]) - v.id_bases["invoices"]),
        "invoiceDate": iso(t.birth[i]),
        "subTotal": money_text(c["sub"][i]),
        "salesTax": money_text(c["tax"][i]),
        "total": money_text(total),
        "balance": money_text(total - paid),
    }
    link = int(c["link"][i])
    job_id, number = int(jobs.ids[j]), job_number(j)
    job_type = cat.JOB_TYPES[int(jobs.cols["job_type"][j])][0]
    if link == 0:
        record["job"] = {"id": job_id, "number": number, "type": job_type}
    elif link == 1:
        record["job"] = None  # the link lost (about 1% of a real tenant's invoices)
    elif link == 2:
        record["job"] = {"id": STALE_JOB_ID_BASE + j, "number": number, "type": None}
    else:
        record["job"] = {"id": job_id, "number": None, "type": None}
    record["businessUnit"] = {
        "id": v.id_of("business_units", bu),
        "name": v.bu_name(bu),
    }
    record["customer"] = {"id": v.id_of("customers", cust), "name": customer_name(v, cust)}
    record["active"] = v.active("invoices", i)
    record["createdOn"] = iso(t.birth[i])
    record["modifiedOn"] = iso(mod)
    return record


def payment(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["payments"]
    c = t.cols
    paid_on = iso(c["paid"][i])
    applied = []
    for slot, (inv, amount) in enumerate(((c["inv_a"][i], c["amt_a"][i]),
                                          (c["inv_b"][i], c["amt_b"][i]))):  # fmt: skip
        if inv >= 0:
            applied.append({
                "appliedId": int(t.ids[i]) * 2 + slot,
                "appliedTo": v.id_of("invoices", inv),
                "appliedAmount": money_text(amount),
                "appliedOn": paid_on,
            })  # fmt: skip
    return {
        "id": int(t.ids[i]),
        "date": paid_on,
        "type": cat.PAYMENT_TYPES[int(c["type"][i])],
        "total": money_text(int(c["amt_a"][i]) + int(c["amt_b"][i])),
        "appliedTo": applied,
        "active": v.active("payments", i),
        "createdOn": iso(t.birth[i]),
        "modifiedOn": iso(mod),
    }
