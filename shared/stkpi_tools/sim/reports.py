"""ServiceTitan's own reports, computed from the simulated tenant's records.

Pure functions over API-shaped records (what ``Tenant.snapshot`` renders, or a hand-made
fixture), so a tiny tenant can prove each number by hand. The HTTP side (catalog, paging,
the once-a-minute limit) is ``stkpi_tools.sim.reporting``.

ServiceTitan's report definitions are NOT the KPI rules of KPIS.md, and this simulator
follows ServiceTitan's, so a reconciliation has real, explainable differences to find:

- **Leads** (``Leads``, report ``lead_jobs``): one per *job* whose job type name contains
  ``estimate`` (case-insensitive), created in the range, any status, **test customers
  included**. KPIS.md counts distinct customers per BU-week and excludes test customers.
- **Estimates** (``estimates_created``): every estimate created in the range, by its job's
  BU, **test customers included** (KPIS.md excludes them).
- **Sold total** (``sold_estimates``): ``subtotal`` of estimates whose status is ``Sold``,
  dated by ``soldOn``, **test customers included**.
- **Completed revenue** (``invoices``): ``subTotal`` of every invoice **dated by its
  invoiceDate**, whatever its job's status. KPIS.md's $ Produced dates an invoice by its
  job's ``completedOn`` and counts only invoices of completed jobs.
- **Collected** (``payments``): ``appliedAmount`` of each payment application, dated by
  the payment's ``date``, in the BU of the invoice it was applied to (the same rule as
  KPIS.md).

Dates are local dates in the tenant's time zone (``TENANT_TIMEZONE``), as ServiceTitan's UI
shows them; ``From``/``To`` are inclusive. A record's BU is its job's BU (an invoice's job
resolved by its nested ``job.id``, else by ``job.number``; an invoice with no resolvable
job falls back to its own ``businessUnit``). Inactive records (``active`` false) are in no
report. Amounts (accounting's decimal strings, the others' numbers) are summed in
``Decimal`` and served rounded to cents.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

TENANT_TIMEZONE = "America/Phoenix"
ESTIMATE_PATTERN = "estimate"
TEST_PATTERN = "test"
CENT = Decimal("0.01")

# entity name -> its visible records (the simulator's tenant, or a fixture)
RecordSource = Callable[[str], list[dict[str, Any]]]


@dataclass(frozen=True)
class Field:
    """One column of a report: ServiceTitan's ``{name, label}`` plus its data type."""

    name: str
    label: str
    type: str  # the spec's DataType: String | Number | Boolean | Date | Time (money is Number)

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "label": self.label, "dataType": self.type}


@dataclass(frozen=True)
class Report:
    """One report of the catalog; ``key`` is stable, the numeric id differs per tenant."""

    key: str
    category: str
    name: str
    description: str
    fields: tuple[Field, ...]


def _f(name: str, label: str, type_: str = "String") -> Field:
    return Field(name, label, type_)


CATEGORIES = (("operations", "Operations"), ("accounting", "Accounting"))
REPORTS: tuple[Report, ...] = (
    Report("bu_performance", "operations", "Business Unit Performance",
           "Leads, estimates, sold total, completed revenue and collections per business unit.",
           (_f("BusinessUnitId", "Business Unit Id", "Number"),
            _f("BusinessUnitName", "Business Unit"),
            _f("Leads", "Leads", "Number"), _f("Estimates", "Estimates", "Number"),
            _f("SoldTotal", "Sold Total", "Number"),
            _f("CompletedRevenue", "Completed Revenue", "Number"),
            _f("Collected", "Collected", "Number"))),
    Report("lead_jobs", "operations", "Lead Jobs",
           "Jobs of an estimate job type created in the range (one lead per job).",
           (_f("JobId", "Job Id", "Number"), _f("JobNumber", "Job #"),
            _f("CustomerId", "Customer Id", "Number"), _f("CustomerName", "Customer"),
            _f("BusinessUnitName", "Business Unit"), _f("JobType", "Job Type"),
            _f("JobStatus", "Job Status"), _f("CreatedDate", "Created Date", "Date"))),
    Report("estimates_created", "operations", "Estimates Created",
           "Estimates created in the range, any status.",
           (_f("EstimateId", "Estimate Id", "Number"), _f("JobId", "Job Id", "Number"),
            _f("CustomerName", "Customer"), _f("BusinessUnitName", "Business Unit"),
            _f("Status", "Status"), _f("CreatedDate", "Created Date", "Date"),
            _f("Subtotal", "Subtotal", "Number"))),
    Report("sold_estimates", "operations", "Sold Estimates",
           "Estimates with status Sold, dated by their sold date.",
           (_f("EstimateId", "Estimate Id", "Number"), _f("JobId", "Job Id", "Number"),
            _f("CustomerName", "Customer"), _f("BusinessUnitName", "Business Unit"),
            _f("SoldDate", "Sold Date", "Date"), _f("Subtotal", "Subtotal", "Number"))),
    Report("invoices", "accounting", "Invoices",
           "Invoices dated in the range (completed revenue), whatever the job's status.",
           (_f("InvoiceId", "Invoice Id", "Number"), _f("InvoiceNumber", "Invoice #"),
            _f("JobId", "Job Id", "Number"), _f("BusinessUnitName", "Business Unit"),
            _f("InvoiceDate", "Invoice Date", "Date"), _f("Subtotal", "Subtotal", "Number"))),
    Report("payments", "accounting", "Payments",
           "One row per payment applied to an invoice, dated by the payment's paid date.",
           (_f("PaymentId", "Payment Id", "Number"), _f("InvoiceId", "Invoice Id", "Number"),
            _f("BusinessUnitName", "Business Unit"), _f("PaidDate", "Paid Date", "Date"),
            _f("Amount", "Amount", "Number"))),
)  # fmt: skip
REPORT_BY_KEY = {r.key: r for r in REPORTS}


def local_date(ts: str | None, tz: ZoneInfo) -> dt.date | None:
    """The tenant-local date of an ISO-8601 UTC timestamp (None stays None)."""
    if not ts:
        return None
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(tz).date()


def _money(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0))


class _Tenant:
    """Lookups a report needs: jobs, their BU and customer, invoices' jobs."""

    def __init__(self, source: RecordSource, tz: ZoneInfo) -> None:
        self.tz = tz
        self.source = source
        self.bus = {b["id"]: b["name"] for b in source("business_units")}
        self.customers = {c["id"]: c.get("name") or "" for c in source("customers")}
        self.job_types = {t["id"]: t.get("name") or "" for t in source("job_types")}
        self.jobs = {j["id"]: j for j in source("jobs")}
        numbers: dict[str, list[int]] = defaultdict(list)
        for job in self.jobs.values():
            numbers[str(job.get("jobNumber"))].append(job["id"])
        self.by_number = {n: ids[0] for n, ids in numbers.items() if len(ids) == 1}

    def bu_of_job(self, job_id: int | None) -> tuple[int | None, str | None]:
        job = self.jobs.get(job_id) if job_id is not None else None
        if job is None:
            return None, None
        bu = job.get("businessUnitId")
        return bu, self.bus.get(bu)

    def customer_of_job(self, job_id: int | None) -> tuple[int | None, str]:
        job = self.jobs.get(job_id) if job_id is not None else None
        cid = job.get("customerId") if job else None
        return cid, self.customers.get(cid, "")

    def invoice_job(self, inv: Mapping[str, Any]) -> int | None:
        nested = inv.get("job") or {}
        job_id = nested.get("id")
        if job_id in self.jobs:
            return job_id
        number = nested.get("number")
        return self.by_number.get(str(number)) if number is not None else None

    def invoice_bu(self, inv: Mapping[str, Any]) -> tuple[int | None, str | None]:
        bu = self.bu_of_job(self.invoice_job(inv))
        if bu[0] is not None:
            return bu
        own = inv.get("businessUnit") or {}
        return own.get("id"), own.get("name")


def _in(d: dt.date | None, start: dt.date, end: dt.date) -> bool:
    return d is not None and start <= d <= end


def _bu_ok(bu_id: int | None, bu_ids: frozenset[int] | None) -> bool:
    return bu_ids is None or bu_id in bu_ids


def lead_jobs(
    t: _Tenant, start: dt.date, end: dt.date, bu_ids: frozenset[int] | None
) -> list[list]:
    rows = []
    for job in sorted(t.jobs.values(), key=lambda j: j["id"]):
        jtype = t.job_types.get(job.get("jobTypeId"), "")
        created = local_date(job.get("createdOn"), t.tz)
        bu_id, bu_name = t.bu_of_job(job["id"])
        if ESTIMATE_PATTERN not in jtype.lower() or not _in(created, start, end):
            continue
        if not _bu_ok(bu_id, bu_ids):
            continue
        cid, cname = t.customer_of_job(job["id"])
        rows.append([job["id"], str(job.get("jobNumber")), cid, cname, bu_name, jtype,
                     job.get("jobStatus"), created.isoformat()])  # type: ignore[union-attr]  # fmt: skip
    return rows


def _estimate_rows(
    t: _Tenant, start: dt.date, end: dt.date, bu_ids: frozenset[int] | None, sold: bool
) -> list[list]:
    rows = []
    for est in sorted(t.source("estimates"), key=lambda e: e["id"]):
        if est.get("active") is False:
            continue
        status = (est.get("status") or {}).get("name")
        when = local_date(est.get("soldOn" if sold else "createdOn"), t.tz)
        if (sold and status != "Sold") or not _in(when, start, end):
            continue
        bu_id, bu_name = t.bu_of_job(est.get("jobId"))
        if not _bu_ok(bu_id, bu_ids):
            continue
        _, cname = t.customer_of_job(est.get("jobId"))
        amount = float(_money(est.get("subtotal")).quantize(CENT))
        head = [est["id"], est.get("jobId"), cname, bu_name]
        rows.append(head + ([when.isoformat(), amount] if sold else  # type: ignore[union-attr]
                            [status, when.isoformat(), amount]))  # type: ignore[union-attr]  # fmt: skip
    return rows


def invoices(t: _Tenant, start: dt.date, end: dt.date, bu_ids: frozenset[int] | None) -> list[list]:
    rows = []
    for inv in sorted(t.source("invoices"), key=lambda i: i["id"]):
        if inv.get("active") is False:
            continue
        when = local_date(inv.get("invoiceDate"), t.tz)
        bu_id, bu_name = t.invoice_bu(inv)
        if not _in(when, start, end) or not _bu_ok(bu_id, bu_ids):
            continue
        amount = float(_money(inv.get("subTotal")).quantize(CENT))
        rows.append([inv["id"], str(inv.get("referenceNumber")), t.invoice_job(inv), bu_name,
                     when.isoformat(), amount])  # type: ignore[union-attr]  # fmt: skip
    return rows


def payments(t: _Tenant, start: dt.date, end: dt.date, bu_ids: frozenset[int] | None) -> list[list]:
    invoice_bu = {inv["id"]: t.invoice_bu(inv) for inv in t.source("invoices")}
    rows = []
    for pay in sorted(t.source("payments"), key=lambda p: p["id"]):
        if pay.get("active") is False:
            continue
        when = local_date(pay.get("date"), t.tz)
        if not _in(when, start, end):
            continue
        for applied in pay.get("appliedTo") or []:
            bu_id, bu_name = invoice_bu.get(applied.get("appliedTo"), (None, None))
            if not _bu_ok(bu_id, bu_ids):
                continue
            amount = float(_money(applied.get("appliedAmount")).quantize(CENT))
            rows.append([pay["id"], applied.get("appliedTo"), bu_name, when.isoformat(), amount])  # type: ignore[union-attr]
    return rows


def bu_performance(
    t: _Tenant, start: dt.date, end: dt.date, bu_ids: frozenset[int] | None
) -> list[list]:
    """The aggregate: each measure is the sum of its row-level report, by BU name."""
    totals: dict[tuple[int | None, str | None], list[Decimal]] = defaultdict(
        lambda: [Decimal(0)] * 5
    )
    name_to_id = {name: bu for bu, name in t.bus.items()}

    def add(bu_name: str | None, slot: int, amount: Decimal) -> None:
        totals[(name_to_id.get(bu_name) if bu_name else None, bu_name)][slot] += amount

    for row in lead_jobs(t, start, end, bu_ids):
        add(row[4], 0, Decimal(1))
    for row in _estimate_rows(t, start, end, bu_ids, sold=False):
        add(row[3], 1, Decimal(1))
    for row in _estimate_rows(t, start, end, bu_ids, sold=True):
        add(row[3], 2, Decimal(str(row[5])))
    for row in invoices(t, start, end, bu_ids):
        add(row[3], 3, Decimal(str(row[5])))
    for row in payments(t, start, end, bu_ids):
        add(row[2], 4, Decimal(str(row[4])))
    out = []
    for (bu_id, bu_name), v in sorted(totals.items(), key=lambda kv: str(kv[0][1])):
        out.append([bu_id, bu_name, int(v[0]), int(v[1]),
                    float(v[2].quantize(CENT)), float(v[3].quantize(CENT)),
                    float(v[4].quantize(CENT))])  # fmt: skip
    return out


_COMPUTE: dict[str, Callable[..., list[list]]] = {
    "bu_performance": bu_performance,
    "lead_jobs": lead_jobs,
    "estimates_created": lambda t, s, e, b: _estimate_rows(t, s, e, b, sold=False),
    "sold_estimates": lambda t, s, e, b: _estimate_rows(t, s, e, b, sold=True),
    "invoices": invoices,
    "payments": payments,
}


def run_report(
    key: str,
    source: RecordSource,
    start: dt.date,
    end: dt.date,
    bu_ids: Iterable[int] | None = None,
    timezone: str = TENANT_TIMEZONE,
) -> list[list]:
    """All rows of report ``key`` for the inclusive local-date range ``[start, end]``."""
    if key not in _COMPUTE:
        raise KeyError(f"unknown report {key!r}; known: {', '.join(_COMPUTE)}")
    tenant = _Tenant(source, ZoneInfo(timezone))
    wanted = frozenset(bu_ids) if bu_ids is not None else None
    return _COMPUTE[key](tenant, start, end, wanted)
