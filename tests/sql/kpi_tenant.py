"""A small fixture tenant, written as ServiceTitan API records, loaded into raw tables.

The records are shaped as ServiceTitan's specs give them (field names, types, accounting
money as decimal strings, nulls only where allowed): ``tests/unit/test_kpi_fixture_shapes.py``
checks every one against its list endpoint's schema. Fields the KPIs never read are left
out, so a record may lack fields the spec requires. Typed raw columns are derived from each
record through the entity registry (the same dotted ``sources`` the loader uses), and
``payload`` is the record as JSON, so the two are always consistent. Report time zone:
America/Phoenix (UTC-7, no DST).

Weeks (Monday..Sunday, Phoenix): W1 = 2025-08-18, W2 = 2025-08-25, W3 = 2025-09-01.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any

from google.cloud import bigquery

from stkpi import raw_ddl
from stkpi.config import Settings
from stkpi.kpi_config import sql_string
from stkpi.registry import dig, get_entity, record_key
from stkpi.sqlfiles import statements

W1, W2, W3 = dt.date(2025, 8, 18), dt.date(2025, 8, 25), dt.date(2025, 9, 1)


def _job(id_, number, customer, bu, jtype, status, created, completed=None):
    return {
        "id": id_,
        "jobNumber": number,
        "customerId": customer,
        "locationId": 1,
        "businessUnitId": bu,
        "jobTypeId": jtype,
        "jobStatus": status,
        "createdOn": created,
        "modifiedOn": created,
        "completedOn": completed,
        "campaignId": 1,
        "soldById": None,
        "total": 0,
    }


def _est(id_, job, status, subtotal, created, sold=None, active=True):
    return {
        "id": id_,
        "jobId": job,
        "status": {"value": 0, "name": status},
        "soldOn": sold,
        "soldBy": None,
        "subtotal": float(subtotal),  # a JSON number: the sales module's money is no string
        "tax": 0.0,
        "active": active,
        "createdOn": created,
        "modifiedOn": sold or created,
        "items": [],
    }


def _appt(id_, job, start, status):
    return {
        "id": id_,
        "jobId": job,
        "start": start,
        "end": start,
        "status": status,
        "active": True,
        "createdOn": "2025-08-18T15:00:00Z",
        "modifiedOn": "2025-08-18T15:00:00Z",
    }


def _inv(id_, job, sub, total, date):
    return {
        "id": id_,
        "referenceNumber": f"INV{id_}",
        "invoiceDate": date,
        "subTotal": sub,  # accounting money: decimal strings
        "total": total,
        "balance": "0.00",  # never used: A/R is rebuilt from total and payments
        "active": True,
        "createdOn": date,
        "modifiedOn": date,
        "job": job,
        "businessUnit": {"id": 6, "name": "Corporate"},  # never used: BU comes from the job
        "customer": {"id": 100, "name": "x"},
    }


def _pay(id_, paid, applied):
    return {
        "id": id_,
        "date": paid,  # the payment's date (there is no paidOn field)
        "total": str(sum(decimal.Decimal(a) for _, a in applied)),
        "appliedTo": [
            {"appliedId": id_ * 10 + n, "appliedTo": inv, "appliedAmount": amt}
            for n, (inv, amt) in enumerate(applied)
        ],
        "active": True,
        "createdOn": paid,
        "modifiedOn": paid,
    }


def _gpi(id_, emp, amount, source, job, invoice=None):
    return {
        "id": id_,
        "employeeId": emp,
        "payrollId": 1,
        "date": "2025-08-22T00:00:00Z",
        "activity": "Painting",
        "amount": amount,
        "paidDurationHours": 8,
        "grossPayItemType": "TimesheetTime",
        "sourceEntityId": source,
        "jobId": job,
        "invoiceId": invoice,
        "createdOn": "2025-08-22T00:00:00Z",
        "modifiedOn": "2025-08-22T00:00:00Z",
    }


# Business units: 1-4 and 7 are in the BU map; 5 is not (role/region from its suffix);
# 6 has no suffix (-> unmapped); jobs also point at 99, which is not in the reference.
BUSINESS_UNITS = [
    {
        "id": i,
        "name": n,
        "active": True,
        "createdOn": "2025-01-01T00:00:00Z",
        "modifiedOn": "2025-01-01T00:00:00Z",
    }
    for i, n in [
        (1, "Phoenix-Sales"),
        (2, "Phoenix-Production"),
        (3, "Tucson-Sales"),
        (4, "Tucson-Production"),
        (5, "Mesa-Sales"),
        (6, "Corporate"),
        (7, "Commercial-AZ-Production"),
    ]
]

CUSTOMERS = [
    {"id": i, "name": n, "type": "Residential", "active": a, "createdOn": "2025-01-01T00:00:00Z"}
    for i, n, a in [
        (100, "Alice", True),
        (101, "Bob", True),
        (102, "ACME tEsTing LLC", False),  # test customer (inactive, still fetched)
        (103, "Carol", True),
        (104, "Dan", True),
        (105, "Eve", True),
    ]
]

JOB_TYPES = [
    {
        "id": i,
        "name": n,
        "active": True,
        "createdOn": "2025-01-01T00:00:00Z",
        "modifiedOn": "2025-01-01T00:00:00Z",
    }
    for i, n in [
        (10, "ESTIMATE-RES-INT"),
        (11, "COMM-ESTIMATE"),
        (12, "Estimate- Cabinets"),
        (20, "Repaint"),
        (21, "WARRANTY"),
    ]
]

JOBS = [
    # Sales jobs
    _job(1, "1001", 100, 1, 10, "Completed", "2025-08-18T16:00:00Z", "2025-08-20T18:00:00Z"),
    _job(2, "1002", 101, 1, 11, "Completed", "2025-08-19T17:00:00Z", "2025-08-22T18:00:00Z"),
    _job(3, "1003", 102, 1, 10, "Completed", "2025-08-20T17:00:00Z", "2025-08-21T18:00:00Z"),
    _job(4, "1004", 100, 1, 12, "Hold", "2025-08-21T20:00:00Z"),
    _job(5, "1005", 103, 3, 10, "Completed", "2025-08-26T17:00:00Z", "2025-08-28T18:00:00Z"),
    _job(6, "1006", 104, 5, 10, "Scheduled", "2025-08-27T17:00:00Z"),
    _job(7, "1007", 105, 99, 10, "Completed", "2025-08-26T17:00:00Z", "2025-08-27T18:00:00Z"),
    _job(8, "1008", 103, 1, 10, "Completed", "2025-08-18T18:00:00Z", "2025-08-23T18:00:00Z"),
    _job(9, "1009", 104, 6, 20, "Canceled", "2025-08-20T17:00:00Z"),
    # Production jobs
    # job 11 completes 2025-08-25T03:30Z = Sunday 2025-08-24 20:30 in Phoenix -> W1, not W2
    _job(11, "2001", 100, 2, 20, "Completed", "2025-08-18T15:00:00Z", "2025-08-25T03:30:00Z"),
    _job(12, "2002", 101, 2, 21, "Completed", "2025-08-19T17:00:00Z", "2025-08-21T18:00:00Z"),
    _job(13, "2003", 103, 4, 20, "Completed", "2025-08-20T17:00:00Z", "2025-08-28T18:00:00Z"),
    _job(14, "2004", 104, 2, 20, "Scheduled", "2025-08-20T17:00:00Z"),
    _job(15, "2005", 105, 2, 20, "Canceled", "2025-08-20T17:00:00Z"),
    _job(16, "2006", 100, 4, 20, "Completed", "2025-08-25T17:00:00Z", "2025-09-03T18:00:00Z"),
    _job(17, "2007", 101, 2, 20, "Completed", "2025-08-26T17:00:00Z", "2025-08-29T18:00:00Z"),
    _job(18, "2008", 105, 7, 20, "Completed", "2025-08-19T17:00:00Z", "2025-08-22T18:00:00Z"),
]

ESTIMATES = [
    _est(301, 1, "Sold", "1500.00", "2025-08-18T17:00:00Z", "2025-08-20T17:00:00Z"),
    _est(302, 1, "Open", "800.00", "2025-08-19T17:00:00Z"),
    # COMM estimate sold 2 weeks after creation; soldOn 2025-09-01T05:00Z = Sun 08-31 local
    _est(303, 2, "Sold", "2000.50", "2025-08-19T17:00:00Z", "2025-09-01T05:00:00Z"),
    _est(304, 3, "Sold", "999.99", "2025-08-20T17:00:00Z", "2025-08-21T17:00:00Z"),  # test
    _est(305, 5, "Dismissed", "700.00", "2025-08-26T17:00:00Z", "2025-08-27T17:00:00Z"),
    _est(306, 7, "Sold", "450.25", "2025-08-26T17:00:00Z", "2025-08-27T17:00:00Z"),
    _est(307, 14, "Sold", "3000.00", "2025-08-20T17:00:00Z", "2025-08-21T18:00:00Z"),
    _est(308, 15, "Sold", "500.00", "2025-08-20T17:00:00Z", "2025-08-21T18:00:00Z"),
    _est(309, 16, "Sold", "1250.00", "2025-08-25T17:00:00Z", "2025-08-26T18:00:00Z"),
    _est(310, 4, "Open", "300.00", "2025-08-22T17:00:00Z"),
    # inactive (ServiceTitan's soft delete): in raw, in no KPI (it would add an estimate and
    # $5,000 booked to Phoenix-Sales W1, and close job 8's opportunity)
    _est(311, 8, "Sold", "5000.00", "2025-08-19T17:00:00Z", "2025-08-20T17:00:00Z", False),
]

APPOINTMENTS = [
    _appt(401, 1, "2025-08-19T16:00:00Z", "Done"),
    _appt(402, 6, "2025-08-28T16:00:00Z", "Scheduled"),
    _appt(403, 6, "2025-08-29T16:00:00Z", "Scheduled"),
    _appt(404, 6, "2025-08-30T16:00:00Z", "Canceled"),
    _appt(405, 3, "2025-08-20T16:00:00Z", "Done"),  # test customer
    _appt(406, 14, "2025-09-02T16:00:00Z", "Scheduled"),
    _appt(407, 15, "2025-09-02T16:00:00Z", "Scheduled"),
    _appt(408, 16, "2025-09-03T15:00:00Z", "Done"),
    # 2025-08-25T04:00Z = Sunday 2025-08-24 21:00 in Phoenix -> W1
    _appt(409, 2, "2025-08-25T04:00:00Z", "Working"),
    _appt(410, 14, "2025-09-10T16:00:00Z", "Canceled"),
]

INVOICES = [
    # invoiceDate 2025-08-25T02:00Z = Sunday 08-24 local -> open as of W1's Sunday
    _inv(
        501,
        {"id": 11, "number": "2001", "type": None},
        "1200.00",
        "1290.00",
        "2025-08-25T02:00:00Z",
    ),
    _inv(
        502,
        {"id": 11, "number": "2001", "type": None},
        "-200.00",
        "-200.00",
        "2025-08-26T18:00:00Z",
    ),
    # job.id 8888 is no job's: linked by job.number
    _inv(
        503,
        {"id": 8888, "number": "2002", "type": None},
        "150.00",
        "150.00",
        "2025-08-21T19:00:00Z",
    ),
    _inv(
        504,
        {"id": 13, "number": "2003", "type": None},
        "2500.00",
        "2675.00",
        "2025-08-28T19:00:00Z",
    ),
    _inv(505, None, "400.00", "400.00", "2025-08-22T19:00:00Z"),  # linked to nothing
    _inv(506, {"id": 17, "number": "2007", "type": None}, "0.00", "0.00", "2025-08-29T19:00:00Z"),
    _inv(
        507, {"id": 7, "number": "1007", "type": None}, "300.00", "300.00", "2025-08-27T19:00:00Z"
    ),
    _inv(
        508,
        {"id": 16, "number": "2006", "type": None},
        "1250.00",
        "1250.00",
        "2025-09-03T19:00:00Z",
    ),
    _inv(
        509,
        {"id": 9999, "number": "2003", "type": None},
        "100.00",
        "100.00",
        "2025-08-29T19:00:00Z",
    ),
    _inv(
        510, {"id": 18, "number": "2008", "type": None}, "850.00", "850.00", "2025-08-22T19:00:00Z"
    ),
]

PAYMENTS = [
    _pay(601, "2025-08-26T18:00:00Z", [(501, "500.00")]),  # partial
    _pay(602, "2025-08-29T18:00:00Z", [(501, "790.00"), (504, "210.00")]),  # split
    _pay(603, "2025-08-23T18:00:00Z", [(505, "400.00")]),  # to the unlinked invoice
    # 2025-09-01T06:00Z = Sunday 08-31 23:00 local -> W2
    _pay(604, "2025-09-01T06:00:00Z", [(504, "1000.00")]),
    _pay(605, "2025-09-04T18:00:00Z", [(507, "100.00")]),
]

GROSS_PAY_ITEMS = [
    _gpi(701, 1, 300.0, 7001, job=11),
    _gpi(702, 2, 100.0, 7001, job=11),  # same sourceEntityId, distinct item: counts
    _gpi(703, 1, 50.0, 7003, job=12, invoice=503),
    _gpi(704, 3, 800.0, 7002, job=13),
    _gpi(705, 4, 200.0, 7002, job=13),
    _gpi(706, 5, 600.0, 7004, job=18),
]

# Adjustments name no job (the spec has no jobId): they reach one through their invoice.
PAYROLL_ADJUSTMENTS = [
    {"id": 801, "employeeId": 1, "postedOn": "2025-08-22T00:00:00Z", "amount": 25.0,
     "invoiceId": 501, "memo": "bonus", "active": True,
     "createdOn": "2025-08-22T00:00:00Z", "modifiedOn": "2025-08-22T00:00:00Z"},
    {"id": 802, "employeeId": 3, "postedOn": "2025-08-29T00:00:00Z", "amount": -10.0,
     "invoiceId": 504, "memo": "correction", "active": True,
     "createdOn": "2025-08-29T00:00:00Z", "modifiedOn": "2025-08-29T00:00:00Z"},
    # inactive: counts nowhere (it would take 1,000 off job 11's margin)
    {"id": 803, "employeeId": 1, "postedOn": "2025-08-22T00:00:00Z", "amount": 1000.0,
     "invoiceId": 501, "memo": "entered twice", "active": False,
     "createdOn": "2025-08-22T00:00:00Z", "modifiedOn": "2025-08-23T00:00:00Z"},
]  # fmt: skip

# Purchasing totals include their tax and shipping (the specs' words for an order's total
# and a return's returnAmount; a bill's billAmount likewise: docs/KPI_RULES.md).
PURCHASE_ORDERS = [
    {"id": 901, "jobId": 11, "total": 150.0, "tax": 11.0, "shipping": 0.0,
     "date": "2025-08-19T00:00:00Z", "status": "Sent"},
    {"id": 902, "jobId": 11, "total": 60.0, "tax": 4.0, "shipping": 6.0,
     "date": "2025-08-19T00:00:00Z", "status": "Received"},
    {"id": 903, "jobId": 13, "total": 500.0, "tax": 0.0, "shipping": 0.0,
     "date": "2025-08-20T00:00:00Z", "status": "Canceled"},
]  # fmt: skip

INVENTORY_BILLS = [
    {"id": 951, "jobId": None, "purchaseOrderId": 901, "billAmount": "140.00",
     "taxAmount": "10.00", "shippingAmount": "5.00", "billDate": "2025-08-21T00:00:00Z"},
    {"id": 952, "jobId": 13, "purchaseOrderId": None, "billAmount": "300.00",
     "taxAmount": "0.00", "shippingAmount": "0.00", "billDate": "2025-08-27T00:00:00Z"},
]  # fmt: skip

RETURNS = [
    {"id": 971, "jobId": 11, "returnAmount": 20.0, "taxAmount": 1.0, "shippingAmount": 0.0,
     "returnDate": "2025-08-23T00:00:00Z", "status": "Returned", "active": True},
    {"id": 972, "jobId": None, "returnAmount": 99.0, "taxAmount": 0.0, "shippingAmount": 0.0,
     "returnDate": "2025-08-23T00:00:00Z", "status": "Returned", "active": True},
    # canceled: credits nothing (it would give job 11 back 500)
    {"id": 973, "jobId": 11, "returnAmount": 500.0, "taxAmount": 0.0, "shippingAmount": 0.0,
     "returnDate": "2025-08-24T00:00:00Z", "status": "Canceled", "active": True},
]  # fmt: skip

TENANT: dict[str, list[dict[str, Any]]] = {
    "business_units": BUSINESS_UNITS,
    "customers": CUSTOMERS,
    "job_types": JOB_TYPES,
    "jobs": JOBS,
    "estimates": ESTIMATES,
    "appointments": APPOINTMENTS,
    "invoices": INVOICES,
    "payments": PAYMENTS,
    "gross_pay_items": GROSS_PAY_ITEMS,
    "payroll_adjustments": PAYROLL_ADJUSTMENTS,
    "purchase_orders": PURCHASE_ORDERS,
    "inventory_bills": INVENTORY_BILLS,
    "returns": RETURNS,
}


def _literal(value: Any, bq_type: str) -> str:
    if value is None:
        return f"CAST(NULL AS {bq_type})"
    if bq_type == "INT64":
        return str(int(value))
    if bq_type == "NUMERIC":
        return f"NUMERIC '{decimal.Decimal(str(value))}'"
    if bq_type == "FLOAT64":
        return repr(float(value))
    if bq_type == "TIMESTAMP":
        return f"TIMESTAMP '{value}'"
    if bq_type == "BOOL":
        return "TRUE" if value else "FALSE"
    return sql_string(str(value))


def load_tenant(
    client: bigquery.Client,
    settings: Settings,
    tenant: dict[str, list[dict[str, Any]]] | None = None,
) -> None:
    """Create the raw tables (DDL rendered from the registry) and insert the fixture records (``tenant``,
    default ``TENANT``: a test may load a copy with records removed, added or changed)."""
    client.create_dataset(f"{settings.gcp_project}.{settings.dataset('raw')}", exists_ok=True)
    for name, records in (TENANT if tenant is None else tenant).items():
        entity = get_entity(name)
        for stmt in statements(raw_ddl.render(entity, settings)):
            client.query(stmt).result()
        cols = [c.name for c in entity.columns] + ["payload", "_run_id", "_window_id", "_page"]
        rows = []
        for rec in records:
            vals = []
            for col in entity.columns:
                if col.name in entity.key and entity.key_hash_fields is not None:
                    value: Any = record_key(entity, rec)
                else:
                    value = next(
                        (v for v in (dig(rec, s) for s in col.sources) if v is not None), None
                    )
                vals.append(_literal(value, col.type))
            vals += [sql_string(json.dumps(rec, default=str)), "'fixture'", "'w'", "1"]
            rows.append("(" + ", ".join(vals) + ")")
        table = f"`{settings.gcp_project}.{settings.dataset('raw')}.{entity.raw_table}`"
        client.query(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES\n" + ",\n".join(rows)
        ).result()
