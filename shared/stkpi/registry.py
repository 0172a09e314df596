"""The entity registry: every ServiceTitan endpoint the pipeline copies, declared as data.

One generic engine (client, DDL, landing, loader) runs off these records, so adding an
entity is a registry entry, not new code: its raw table's DDL is rendered from the entry
(``stkpi.raw_ddl``, which Terraform's ``terraform/schemas/raw/<name>.json`` is generated
from by ``scripts/gen_terraform_schemas.py``). The simulator, which is tooling, declares
how it generates each entity on its own side (``stkpi_tools.sim.entities``); this module
never imports it. No endpoint path appears anywhere else in the project.

Column ``sources`` are dotted paths into the API record, tried in order: the first non-null
wins. That is how an invoice's job link is read from either the nested ``job.id`` or a
top-level ``jobId`` (both shapes occur in real tenants).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from stkpi.errors import PermanentError

Kind = Literal["transactional", "reference"]
BqType = Literal["INT64", "STRING", "NUMERIC", "TIMESTAMP", "BOOL", "FLOAT64"]


@dataclass(frozen=True)
class Column:
    """A typed raw column extracted from the API record."""

    name: str
    type: BqType
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Entity:
    """One ServiceTitan endpoint and how its records land in BigQuery."""

    name: str
    module: str
    resource: str
    kind: Kind
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    partition_field: str | None
    window_params: tuple[str, str] | None = ("modifiedOnOrAfter", "modifiedBefore")
    extra_params: Mapping[str, str] = field(default_factory=dict)
    lookback_days: int = 7
    key_hash_fields: tuple[str, ...] | None = None
    export_resource: str | None = None
    version_column: str = "modified_on"
    # ServiceTitan hard-deletes these records: only a key scan (stkpi.key_scan) sees it.
    deletes: bool = False
    # How a key scan windows the entity: by the immutable createdOn, so no record moves
    # between windows (or out of the scan) when it is edited while the scan pages.
    scan_params: tuple[str, str] | None = ("createdOnOrAfter", "createdBefore")
    scan_column: str | None = "created_on"

    def path(self, tenant: str) -> str:
        """API path of the list endpoint for ``tenant``."""
        return f"/{self.module}/v2/tenant/{tenant}/{self.resource}"

    def export_path(self, tenant: str) -> str | None:
        """API path of the export endpoint, if the API has one for this entity."""
        if self.export_resource is None:
            return None
        return f"/{self.module}/v2/tenant/{tenant}/export/{self.export_resource}"

    @property
    def raw_table(self) -> str:
        return self.name

    def for_key_scan(self) -> Entity:
        """The entity as a key scan fetches it: windows by ``scan_params`` (createdOn)
        instead of ``modifiedOn``; a reference entity is listed whole either way."""
        if self.window_params is None:
            return self
        names = {c.name for c in self.columns}
        if self.scan_params is None or self.scan_column not in names:
            raise PermanentError(f"{self.name} has no createdOn filter: it cannot be key-scanned")
        return replace(self, window_params=self.scan_params)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")


def _c(name: str, type_: BqType, *sources: str) -> Column:
    return Column(name, type_, tuple(sources))


def _audit(created: bool = True) -> tuple[Column, ...]:
    cols = [_c("modified_on", "TIMESTAMP", "modifiedOn")]
    if created:
        cols.insert(0, _c("created_on", "TIMESTAMP", "createdOn"))
    return tuple(cols)


_ANY = {"active": "Any"}

ENTITIES: tuple[Entity, ...] = (
    Entity(
        name="jobs",
        module="jpm",
        resource="jobs",
        kind="transactional",
        key=("id",),
        partition_field="created_on",
        export_resource="jobs",
        columns=(
            _c("id", "INT64", "id"),
            _c("number", "STRING", "number"),
            _c("customer_id", "INT64", "customerId"),
            _c("location_id", "INT64", "locationId"),
            _c("business_unit_id", "INT64", "businessUnitId"),
            _c("job_type_id", "INT64", "jobTypeId"),
            _c("job_status", "STRING", "jobStatus"),
            _c("completed_on", "TIMESTAMP", "completedOn"),
            _c("campaign_id", "INT64", "campaignId"),
            _c("sold_by_id", "INT64", "soldById"),
            _c("total", "NUMERIC", "total"),
            *_audit(),
        ),
    ),
    Entity(
        name="appointments",
        module="jpm",
        resource="appointments",
        kind="transactional",
        key=("id",),
        partition_field="created_on",
        deletes=True,
        columns=(
            _c("id", "INT64", "id"),
            _c("job_id", "INT64", "jobId"),
            _c("start_at", "TIMESTAMP", "start"),
            _c("end_at", "TIMESTAMP", "end"),
            _c("status", "STRING", "status"),
            *_audit(),
        ),
    ),
    Entity(
        name="invoices",
        module="accounting",
        resource="invoices",
        kind="transactional",
        key=("id",),
        partition_field="created_on",
        export_resource="invoices",
        columns=(
            _c("id", "INT64", "id"),
            _c("number", "STRING", "number"),
            _c("invoice_date", "TIMESTAMP", "invoiceDate"),
            _c("sub_total", "NUMERIC", "subTotal"),
            _c("total", "NUMERIC", "total"),
            _c("balance", "NUMERIC", "balance"),
            _c("job_id", "INT64", "job.id", "jobId"),
            _c("job_number", "STRING", "job.number", "jobNumber"),
            _c("business_unit_id", "INT64", "businessUnit.id"),
            _c("customer_id", "INT64", "customer.id"),
            *_audit(),
        ),
    ),
    Entity(
        name="estimates",
        module="sales",
        resource="estimates",
        kind="transactional",
        key=("id",),
        partition_field="created_on",
        lookback_days=180,
        deletes=True,
        columns=(
            _c("id", "INT64", "id"),
            _c("job_id", "INT64", "jobId"),
            _c("status", "STRING", "status.name"),
            _c("sold_on", "TIMESTAMP", "soldOn"),
            _c("sold_by", "INT64", "soldBy"),
            _c("subtotal", "NUMERIC", "subtotal"),
            _c("total", "NUMERIC", "total"),
            *_audit(),
        ),
    ),
    Entity(
        name="payments",
        module="accounting",
        resource="payments",
        kind="transactional",
        key=("id",),
        partition_field="created_on",
        deletes=True,
        columns=(
            _c("id", "INT64", "id"),
            _c("paid_on", "TIMESTAMP", "paidOn"),
            _c("total", "NUMERIC", "total"),
            *_audit(),
        ),
    ),
    Entity(
        name="gross_pay_items",
        module="payroll",
        resource="gross-pay-items",
        kind="transactional",
        key=("item_key",),
        key_hash_fields=(
            "employeeId",
            "payrollId",
            "sourceEntityId",
            "sourceEntityType",
            "activity",
            "date",
            "jobId",
        ),
        partition_field="item_date",
        columns=(
            _c("item_key", "STRING"),  # filled from key_hash_fields, see record_key()
            _c("employee_id", "INT64", "employeeId"),
            _c("payroll_id", "INT64", "payrollId"),
            _c("item_date", "TIMESTAMP", "date"),
            _c("activity", "STRING", "activity"),
            _c("amount", "NUMERIC", "amount"),
            _c("paid_duration_hours", "NUMERIC", "paidDurationHours"),
            _c("source_entity_id", "INT64", "sourceEntityId"),
            _c("source_entity_type", "STRING", "sourceEntityType"),
            _c("job_id", "INT64", "jobId"),
            _c("invoice_id", "INT64", "invoiceId"),
            *_audit(created=False),
        ),
    ),
    Entity(
        name="payroll_adjustments",
        module="payroll",
        resource="payroll-adjustments",
        kind="transactional",
        key=("id",),
        partition_field="posted_on",
        columns=(
            _c("id", "INT64", "id"),
            _c("employee_id", "INT64", "employeeId"),
            _c("posted_on", "TIMESTAMP", "postedOn"),
            _c("amount", "NUMERIC", "amount"),
            _c("job_id", "INT64", "jobId"),
            _c("invoice_id", "INT64", "invoiceId"),
            _c("memo", "STRING", "memo"),
            *_audit(created=False),
        ),
    ),
    Entity(
        name="customers",
        module="crm",
        resource="customers",
        kind="transactional",
        key=("id",),
        partition_field="created_on",
        extra_params=_ANY,
        export_resource="customers",
        deletes=True,
        columns=(
            _c("id", "INT64", "id"),
            _c("name", "STRING", "name"),
            _c("type", "STRING", "type"),
            _c("active", "BOOL", "active"),
            *_audit(),
        ),
    ),
    Entity(
        name="locations",
        module="crm",
        resource="locations",
        kind="transactional",
        key=("id",),
        partition_field="created_on",
        extra_params=_ANY,
        deletes=True,
        columns=(
            _c("id", "INT64", "id"),
            _c("customer_id", "INT64", "customerId"),
            _c("name", "STRING", "name"),
            _c("state", "STRING", "address.state"),
            _c("active", "BOOL", "active"),
            *_audit(),
        ),
    ),
    Entity(
        name="purchase_orders",
        module="inventory",
        resource="purchase-orders",
        kind="transactional",
        key=("id",),
        partition_field="po_date",
        columns=(
            _c("id", "INT64", "id"),
            _c("job_id", "INT64", "jobId"),
            _c("total", "NUMERIC", "total"),
            _c("po_date", "TIMESTAMP", "date"),
            _c("status", "STRING", "status"),
            *_audit(created=False),
        ),
    ),
    Entity(
        name="inventory_bills",
        module="accounting",
        resource="inventory-bills",
        kind="transactional",
        key=("id",),
        partition_field="bill_date",
        columns=(
            _c("id", "INT64", "id"),
            _c("job_id", "INT64", "jobId"),
            _c("purchase_order_id", "INT64", "purchaseOrderId"),
            _c("total", "NUMERIC", "total"),
            _c("bill_date", "TIMESTAMP", "billDate"),
            *_audit(created=False),
        ),
    ),
    Entity(
        name="returns",
        module="inventory",
        resource="returns",
        kind="transactional",
        key=("id",),
        partition_field="return_date",
        columns=(
            _c("id", "INT64", "id"),
            _c("job_id", "INT64", "jobId"),
            _c("total", "NUMERIC", "total"),
            _c("return_date", "TIMESTAMP", "returnDate"),
            *_audit(created=False),
        ),
    ),
    Entity(
        name="business_units",
        module="settings",
        resource="business-units",
        kind="reference",
        key=("id",),
        partition_field=None,
        window_params=None,
        extra_params=_ANY,
        deletes=True,
        columns=(
            _c("id", "INT64", "id"),
            _c("name", "STRING", "name"),
            _c("active", "BOOL", "active"),
            *_audit(created=False),
        ),
    ),
    Entity(
        name="technicians",
        module="settings",
        resource="technicians",
        kind="reference",
        key=("id",),
        partition_field=None,
        window_params=None,
        extra_params=_ANY,
        deletes=True,
        columns=(
            _c("id", "INT64", "id"),
            _c("name", "STRING", "name"),
            _c("business_unit_id", "INT64", "businessUnitId"),
            _c("active", "BOOL", "active"),
            *_audit(created=False),
        ),
    ),
    Entity(
        name="job_types",
        module="jpm",
        resource="job-types",
        kind="reference",
        key=("id",),
        partition_field=None,
        window_params=None,
        extra_params=_ANY,
        columns=(
            _c("id", "INT64", "id"),
            _c("name", "STRING", "name"),
            _c("active", "BOOL", "active"),
            *_audit(created=False),
        ),
    ),
    Entity(
        name="activity_codes",
        module="payroll",
        resource="activity-codes",
        kind="reference",
        key=("id",),
        partition_field=None,
        window_params=None,
        extra_params=_ANY,
        columns=(
            _c("id", "INT64", "id"),
            _c("code", "STRING", "code"),
            _c("name", "STRING", "name"),
            _c("active", "BOOL", "active"),
            *_audit(created=False),
        ),
    ),
    Entity(
        name="campaigns",
        module="marketing",
        resource="campaigns",
        kind="reference",
        key=("id",),
        partition_field=None,
        window_params=None,
        extra_params=_ANY,
        columns=(
            _c("id", "INT64", "id"),
            _c("name", "STRING", "name"),
            _c("active", "BOOL", "active"),
            *_audit(created=False),
        ),
    ),
)

_BY_NAME: dict[str, Entity] = {e.name: e for e in ENTITIES}

TRANSACTIONAL: tuple[str, ...] = tuple(e.name for e in ENTITIES if e.kind == "transactional")
REFERENCE: tuple[str, ...] = tuple(e.name for e in ENTITIES if e.kind == "reference")
# Entities ServiceTitan hard-deletes (SERVICETITAN.md): what a key scan covers. Invoice
# items are nested in the invoice record, not an entity of their own (docs/DEPLOY.md, "Deletes").
DELETABLE: tuple[str, ...] = tuple(e.name for e in ENTITIES if e.deletes)


def get_entity(name: str) -> Entity:
    """Look an entity up by name; an unknown name is a permanent, clearly worded error."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(_BY_NAME))
        raise PermanentError(f"unknown entity {name!r}; known entities: {known}") from None


def dig(record: Mapping[str, Any], dotted: str) -> Any:
    """Value at a dotted path (``job.id``) or None when any step is missing or null."""
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
        if value is None:
            return None
    return value


def record_key(entity: Entity, record: Mapping[str, Any]) -> str:
    """Stable key of a record, as a string (used for hashing, logs and comparisons).

    For hash-keyed entities (payroll gross-pay items, whose ``sourceEntityId`` repeats) the
    key is a SHA-256 of the identifying fields only: never amounts or modification times,
    so an edited item replaces its old version instead of adding a second row.
    """
    if entity.key_hash_fields is not None:
        ident = [dig(record, f) for f in entity.key_hash_fields]
        canon = json.dumps(ident, separators=(",", ":"), default=str)
        return hashlib.sha256(canon.encode()).hexdigest()[:32]
    parts = [dig(record, entity.column(k).sources[0]) for k in entity.key]
    if any(p is None for p in parts):
        raise ValueError(f"{entity.name} record has no key {entity.key}: {record!r:.200}")
    return "|".join(str(p) for p in parts)
