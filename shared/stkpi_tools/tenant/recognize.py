"""Which of a tenant's reports feed which KPI's reconciliation: proposals from field names.

Report ids and custom reports differ per tenant (SERVICETITAN.md), so nothing here is a
fact about ServiceTitan: these are the field names and labels a report must show for
``stkpi tenant init`` to propose it, as data. A KPI is proposed only when both its
aggregate (``total``) and its row-level (``records``) report are found; the operator
checks the result (``stkpi tenant show``) and corrects or completes it with ``stkpi
tenant map-report``. Names are compared case-insensitively, without spaces or
punctuation, against a field's ``name`` and its ``label``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stkpi.reconcile.mapping import RECONCILED_KPIS, ReportSource

BU_FIELDS = ("BusinessUnitName", "BusinessUnit")


@dataclass(frozen=True)
class RecordsRule:
    """A row-level report of one KPI: words in its name, its id, date and value fields."""

    name_words: tuple[str, ...]
    ids: tuple[str, ...]  # every one must exist (joined with + when several)
    dates: tuple[str, ...]  # the first that exists
    values: tuple[str, ...] = ()  # the first that exists; () = each row counts 1
    not_words: tuple[str, ...] = ()


# KPI -> the aggregate report's value column (one row per BU)
TOTALS: dict[str, tuple[str, ...]] = {
    "leads": ("Leads",),
    "estimates": ("Estimates",),
    "total_booked": ("SoldTotal", "TotalSales"),
    "produced": ("CompletedRevenue", "TotalRevenue"),
    "collected": ("Collected", "Collections"),
}
RECORDS: dict[str, RecordsRule] = {
    "leads": RecordsRule(("lead",), ("JobId",), ("CreatedDate", "CreatedOn")),
    "estimates": RecordsRule(
        ("estimate",), ("EstimateId",), ("CreatedDate", "CreatedOn"), not_words=("sold",)
    ),
    "total_booked": RecordsRule(("sold",), ("EstimateId",), ("SoldDate", "SoldOn"), ("Subtotal",)),
    "produced": RecordsRule(("invoice",), ("InvoiceId",), ("InvoiceDate",), ("Subtotal",)),
    "collected": RecordsRule(
        ("payment",), ("PaymentId", "InvoiceId"), ("PaidDate", "PaidOn"), ("Amount",)
    ),
}


def _key(text: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(text or "").lower())


@dataclass(frozen=True)
class Report:
    """One report as ``stkpi reconcile discover`` lists it."""

    category: str
    report_id: int
    name: str
    fields: tuple[Mapping[str, Any], ...]  # {"name", "label"}

    def field(self, wanted: Iterable[str]) -> str | None:
        """The name of the first field that answers to one of ``wanted``."""
        for w in wanted:
            for f in self.fields:
                if _key(w) in (_key(f.get("name")), _key(f.get("label"))):
                    return str(f.get("name"))
        return None


def _total(kpi: str, reports: Sequence[Report], tenant_id: str) -> ReportSource | None:
    for r in reports:
        bu, value = r.field(BU_FIELDS), r.field(TOTALS[kpi])
        if bu and value:
            return ReportSource(tenant_id, kpi, "total", r.category, r.report_id, bu,
                                value_field=value)  # fmt: skip
    return None


def _records(kpi: str, reports: Sequence[Report], tenant_id: str) -> ReportSource | None:
    rule = RECORDS[kpi]
    for r in reports:
        name = _key(r.name)
        if not any(w in name for w in rule.name_words) or any(w in name for w in rule.not_words):
            continue
        bu, date = r.field(BU_FIELDS), r.field(rule.dates)
        ids = [r.field((i,)) for i in rule.ids]
        value = r.field(rule.values) if rule.values else ""
        if bu and date and all(ids) and value is not None:
            return ReportSource(tenant_id, kpi, "records", r.category, r.report_id, bu,
                                date_field=date, id_field="+".join(str(i) for i in ids),
                                value_field=value)  # fmt: skip
    return None


def propose_report_map(
    tenant_id: str, reports: Sequence[Report]
) -> tuple[tuple[ReportSource, ...], list[str]]:
    """(the proposed rows, the KPIs left without a pair of reports)."""
    rows: list[ReportSource] = []
    missing: list[str] = []
    for kpi in RECONCILED_KPIS:
        total, records = _total(kpi, reports, tenant_id), _records(kpi, reports, tenant_id)
        if total and records:
            rows += [total, records]
        else:
            missing.append(kpi)
    return tuple(rows), missing
