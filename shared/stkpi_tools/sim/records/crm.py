"""CRM renderers: reference data, customers and locations, jobs and appointments.

The records the sales and back-office records point at; a job's status follows its visit
times, an appointment's its own.
"""

from __future__ import annotations

from typing import Any

from stkpi_tools.sim import catalog as cat
from stkpi_tools.sim.clock import iso
from stkpi_tools.sim.records.view import (
    View,
    customer_name,
    invoice_total,
    job_number,
    money,
    person,
)


def _reference(v: View, entity: str, i: int, mod: int, /, **fields: Any) -> dict[str, Any]:
    """A reference record: its id, ``fields``, whether it is active and when it was created
    and changed."""
    t = v.tables[entity]
    return {"id": int(t.ids[i]), **fields, "active": bool(t.active[i]),
            "createdOn": iso(t.birth[i]), "modifiedOn": iso(mod)}  # fmt: skip


def business_unit(v: View, i: int, mod: int) -> dict[str, Any]:
    name = v.bu_name(i)
    return _reference(v, "business_units", i, mod, name=name, officialName=name)


def technician(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["technicians"]
    r = v.rng("technicians", t.ids[i])
    bu = v.id_of("business_units", t.cols["bu"][i])
    return _reference(v, "technicians", i, mod, name=person(r), businessUnitId=bu)


def job_type(v: View, i: int, mod: int) -> dict[str, Any]:
    return _reference(v, "job_types", i, mod, name=cat.JOB_TYPES[i][0])


def activity_code(v: View, i: int, mod: int) -> dict[str, Any]:
    code, name, _ = cat.ACTIVITY_CODES[i]
    return _reference(v, "activity_codes", i, mod, code=code, name=name)


def campaign(v: View, i: int, mod: int) -> dict[str, Any]:
    return _reference(v, "campaigns", i, mod, name=cat.CAMPAIGNS[i][0])


def customer(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["customers"]
    return {
        "id": int(t.ids[i]),
        "name": customer_name(v, i),
        "type": "Commercial" if t.cols["commercial"][i] else "Residential",
        "active": bool(t.active[i]),
        "balance": 0.0,
        "address": _address(v, "customers", int(t.ids[i]), int(t.cols["region"][i])),
        "createdOn": iso(t.birth[i]),
        "modifiedOn": iso(mod),
    }


def location(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["locations"]
    c = int(t.cols["customer"][i])
    region = int(v.tables["customers"].cols["region"][c])
    return {
        "id": int(t.ids[i]),
        "customerId": v.id_of("customers", c),
        "name": customer_name(v, c),
        "address": _address(v, "locations", int(t.ids[i]), region),
        "active": bool(t.active[i]),
        "createdOn": iso(t.birth[i]),
        "modifiedOn": iso(mod),
    }


def _address(v: View, entity: str, record_id: int, region: int) -> dict[str, Any]:
    """A street address in the record's region (Nevada, else Arizona)."""
    r = v.rng(entity, record_id)
    return {
        "street": f"{r.randint(100, 9999)} {r.choice(cat.STREETS)}",
        "city": r.choice(cat.CITIES[region]),
        "state": "NV" if region == 2 else "AZ",
        "zip": f"{(89100 if region == 2 else 85000) + r.randint(1, 99):05d}",
        "country": "USA",
    }


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
        "jobNumber": job_number(i),
        "customerId": v.id_of("customers", c["customer"][i]),
        "locationId": v.id_of("locations", c["location"][i]),
        "businessUnitId": v.id_of("business_units", c["bu"][i]),
        "jobTypeId": v.id_of("job_types", c["job_type"][i]),
        "jobStatus": status,
        "completedOn": iso(c["t1"][i]) if status == "Completed" else None,
        # every job has a campaign (the spec: required, never null); unknown: the first
        "campaignId": v.id_of("campaigns", max(int(c["campaign"][i]), 0)),
        "soldById": v.id_of("technicians", c["sold_by"][i]),
        "total": money(invoice_total(v, inv)) if has_total else 0.0,
        "active": True,  # exports only (conform drops it from the list's records)
        "createdOn": iso(t.birth[i]),
        "modifiedOn": iso(mod),
    }


# Status columns, latest stage first
_APPOINTMENT_STAGES: tuple[tuple[str, str], ...] = (
    ("cancel", "Canceled"),
    ("done", "Done"),
    ("start", "Working"),
    ("dispatched", "Dispatched"),
)


def appointment(v: View, i: int, mod: int) -> dict[str, Any]:
    t = v.tables["appointments"]
    c = t.cols
    status = v.status(t, i, _APPOINTMENT_STAGES, "Scheduled")
    job_customer = v.tables["jobs"].cols["customer"][c["job"][i]]
    return {
        "id": int(t.ids[i]),
        "jobId": v.id_of("jobs", c["job"][i]),
        "customerId": v.id_of("customers", job_customer),
        "appointmentNumber": f"{job_number(c['job'][i])}-{int(t.ids[i]) % 97}",
        "start": iso(c["start"][i]),
        "end": iso(c["end"][i]),
        "status": status,
        "active": v.active("appointments", i),
        "createdOn": iso(t.birth[i]),
        "modifiedOn": iso(mod),
    }
