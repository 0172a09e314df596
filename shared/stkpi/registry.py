"""The entity registry: every ServiceTitan endpoint the pipeline copies, declared as data.

One generic engine (client, DDL, landing, loader) runs off these records, so adding an
entity is a registry entry, not new code: its raw table's DDL is rendered from the entry
(``stkpi.raw_ddl``, which Terraform's ``terraform/schemas/raw/<name>.json`` is generated
from by ``scripts/gen_terraform_schemas.py``). The simulator, which is tooling, declares
how it generates each entity on its own side (``stkpi_tools.sim.entities``); this module
never imports it. No endpoint path appears anywhere else in the project.

Every field name, parameter and page shape here is ServiceTitan's, as its published OpenAPI
specs give them (``specs/servicetitan/``, docs/SERVICETITAN_SPECS.md): the registry is the
runtime's copy of what it needs of them, and ``tests/unit/test_st_contract.py`` holds it to
the specs (each column's source path, each parameter the client sends, each page shape, and
``active`` filters that hide records by default). Column ``sources`` are dotted paths into
the API record, tried in order: the first non-null wins.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from stkpi.errors import PermanentError

Kind = Literal["transactional", "reference"]
# The runs that can read an entity's export instead of its list (docs/EXPORTS.md).
ExportRun = Literal["backfill", "daily"]
BqType = Literal["INT64", "STRING", "NUMERIC", "TIMESTAMP", "BOOL", "FLOAT64"]
# How a list endpoint answers (the spec's 200 response): the paged object
# ``{page, pageSize, hasMore, totalCount, data}``, or a bare JSON array of records.
ListShape = Literal["page", "array"]


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
    # A key column filled from the record's ``id`` when it has one, else from a hash of
    # these fields (payroll gross-pay items, whose spec makes ``id`` nullable).
    key_hash_fields: tuple[str, ...] | None = None
    # The module's export endpoint (export/<resource>), where ServiceTitan publishes one.
    export_resource: str | None = None
    list_shape: ListShape = "page"
    # The runs that read the export instead of the list (docs/EXPORTS.md says why, per
    # entity); key scans and reference refreshes always read the list.
    export_runs: tuple[ExportRun, ...] = ()
    # Why the list is read without asking for inactive records too, where its ``active`` /
    # ``activeState`` parameter hides them by default (the contract test asks for one).
    active_note: str | None = None
    version_column: str = "modified_on"
    # ServiceTitan hard-deletes these records: only a key scan (stkpi.key_scan) sees it.
    deletes: bool = False
    # How a key scan windows the entity: by the immutable createdOn, so no record moves
    # between windows (or out of the scan) when it is edited while the scan pages.
    scan_params: tuple[str, str] | None = ("createdOnOrAfter", "createdBefore")
    scan_column: str | None = "created_on"
    # Whether ``partition_field`` never changes for a key. Only then may the raw MERGE
    # prune the table to a batch's partition range: business dates (a PO, bill, return,
    # posting or payroll date) are edited by users, and a record whose date moved out of
    # the batch's range would not be matched and would be inserted a second time.
    partition_immutable: bool = False

    def path(self, tenant: str) -> str:
        """API path of the list endpoint for ``tenant``."""
        return f"/{self.module}/v2/tenant/{tenant}/{self.resource}"

    def reads_export(self, run_type: str) -> bool:
        """Whether a run of ``run_type`` reads this entity's export (not its list)."""
        return self.export_resource is not None and run_type in self.export_runs

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


def _camel(name: str) -> str:
    """The API's spelling of a column name: ``business_unit_id`` -> ``businessUnitId``."""
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def _of(type_: BqType, *names: str) -> tuple[Column, ...]:
    """Columns of one type, each read from the API field its name spells (``_camel``)."""
    return tuple(Column(name, type_, (_camel(name),)) for name in names)


def _audit(created: bool = True) -> tuple[Column, ...]:
    """``created_on`` (unless ``created`` is False) and ``modified_on``."""
    cols = [_c("modified_on", "TIMESTAMP", "modifiedOn")]
    if created:
        cols.insert(0, _c("created_on", "TIMESTAMP", "createdOn"))
    return tuple(cols)


# Inactive records too (the spec: "only active items will be returned by default"); the
# accounting lists spell it activeState, whose values are ActiveOnly, InactiveOnly and All.
_ANY = {"active": "Any"}
_ALL_STATES = {"activeState": "All"}
IMMUTABLE_DATE = "created_on"
_ID = _c("id", "INT64", "id")
_ACTIVE = _c("active", "BOOL", "active")


def _transactional(
    name: str,
    module: str,
    resource: str,
    partition_field: str,
    columns: tuple[Column, ...],
    *,
    key: str = "id",
    **options: Any,
) -> Entity:
    """An entity windowed by ``modifiedOn``: its key column first (``id`` unless said),
    then ``columns``, then the audit columns ``created_on`` and ``modified_on``.
    ``createdOn`` is the one date ServiceTitan never changes: a partition on any other is
    mutable (``Entity.partition_immutable``)."""
    return Entity(
        name=name,
        module=module,
        resource=resource,
        kind="transactional",
        key=(key,),
        partition_field=partition_field,
        partition_immutable=partition_field == IMMUTABLE_DATE,
        columns=((_ID,) if key == "id" else ()) + columns + _audit(),
        **options,
    )


def _reference(
    name: str,
    module: str,
    resource: str,
    *columns: Column,
    deletes: bool = False,
    export_resource: str | None = None,
) -> Entity:
    """A small list read whole, inactive rows included: ``id``, ``columns``, ``active``."""
    return Entity(
        name=name,
        module=module,
        resource=resource,
        kind="reference",
        key=("id",),
        partition_field=None,
        window_params=None,
        extra_params=_ANY,
        deletes=deletes,
        export_resource=export_resource,
        columns=(_ID, *columns, _ACTIVE, *_audit(created=False)),
    )


_NAME = _c("name", "STRING", "name")
# Which runs read the export (docs/EXPORTS.md, measured by `stkpi bench-reads`): daily runs
# follow every transactional entity's change feed from where the last one ended; backfills
# page the lists, windows side by side, except the inventory bills, whose list answers a
# bare array (no count to split or to check a pass by).
_DAILY: tuple[ExportRun, ...] = ("daily",)
_ALWAYS: tuple[ExportRun, ...] = ("backfill", "daily")
_JOB_ID = _c("job_id", "INT64", "jobId")
_TOTAL = _c("total", "NUMERIC", "total")

ENTITIES: tuple[Entity, ...] = (
    _transactional(
        "jobs", "jpm", "jobs", "created_on",
        (*_of("STRING", "job_number"),
         *_of("INT64", "customer_id", "location_id", "business_unit_id", "job_type_id"),
         *_of("STRING", "job_status"), *_of("TIMESTAMP", "completed_on"),
         *_of("INT64", "campaign_id", "sold_by_id"), _TOTAL),
        export_resource="jobs", export_runs=_DAILY,
    ),
    _transactional(
        "appointments", "jpm", "appointments", "created_on",
        (_JOB_ID, _c("start_at", "TIMESTAMP", "start"), _c("end_at", "TIMESTAMP", "end"),
         *_of("STRING", "status"), _ACTIVE),
        extra_params=_ANY, export_resource="appointments", deletes=True, export_runs=_DAILY,
    ),
    _transactional(
        "invoices", "accounting", "invoices", "created_on",
        (*_of("STRING", "reference_number"), *_of("TIMESTAMP", "invoice_date"),
         *_of("NUMERIC", "sub_total", "sales_tax", "total", "balance"),
         _c("job_id", "INT64", "job.id"), _c("job_number", "STRING", "job.number"),
         _c("business_unit_id", "INT64", "businessUnit.id"),
         _c("customer_id", "INT64", "customer.id"), _ACTIVE),
        extra_params=_ALL_STATES, export_resource="invoices", export_runs=_DAILY,
    ),
    _transactional(
        "estimates", "sales", "estimates", "created_on",
        (_JOB_ID, *_of("STRING", "job_number"), _c("status", "STRING", "status.name"),
         *_of("TIMESTAMP", "sold_on"), *_of("INT64", "sold_by"),
         *_of("NUMERIC", "subtotal", "tax"), _ACTIVE),
        extra_params=_ANY, export_resource="estimates", lookback_days=180, deletes=True, export_runs=_DAILY,
    ),
    _transactional(
        "payments", "accounting", "payments", "created_on",
        # The payment's date is ``date`` (the list filters it as paidOnAfter/paidOnBefore).
        (_c("paid_on", "TIMESTAMP", "date"), _TOTAL, _ACTIVE),
        extra_params=_ALL_STATES, export_resource="payments", deletes=True, export_runs=_DAILY,
    ),
    _transactional(
        "gross_pay_items", "payroll", "gross-pay-items", "item_date",
        # item_key: the item's id, or without one a hash of the fields that identify it
        # (stkpi.registry.record_key); never amounts or modification times.
        (_c("item_key", "STRING", "id"),
         *_of("INT64", "employee_id", "payroll_id"), _c("item_date", "TIMESTAMP", "date"),
         *_of("STRING", "activity"), *_of("INT64", "activity_code_id"),
         *_of("NUMERIC", "amount", "paid_duration_hours"),
         *_of("STRING", "gross_pay_item_type"),
         *_of("INT64", "source_entity_id", "job_id", "invoice_id")),
        key="item_key", export_resource="gross-pay-items", export_runs=_DAILY,
        key_hash_fields=("employeeId", "payrollId", "grossPayItemType", "sourceEntityId",
                         "invoiceItemId", "activityCodeId", "date", "jobId"),
    ),
    _transactional(
        "payroll_adjustments", "payroll", "payroll-adjustments", "posted_on",
        # No jobId in the spec: an adjustment reaches its job through its invoice.
        (*_of("INT64", "employee_id"), *_of("TIMESTAMP", "posted_on"),
         *_of("NUMERIC", "amount"), *_of("INT64", "invoice_id"), *_of("STRING", "type", "memo"),
         _ACTIVE),
        extra_params=_ANY, export_resource="payroll-adjustments", export_runs=_DAILY,
    ),
    _transactional(
        "customers", "crm", "customers", "created_on",
        (_NAME, *_of("STRING", "type"), _ACTIVE),
        extra_params=_ANY, export_resource="customers", deletes=True, export_runs=_DAILY,
    ),
    _transactional(
        "locations", "crm", "locations", "created_on",
        (*_of("INT64", "customer_id"), _NAME, _c("state", "STRING", "address.state"), _ACTIVE),
        extra_params=_ANY, export_resource="locations", deletes=True, export_runs=_DAILY,
    ),
    _transactional(
        "purchase_orders", "inventory", "purchase-orders", "po_date",
        # total includes the items, tax and shipping (the spec's description).
        (_JOB_ID, *_of("NUMERIC", "total", "tax", "shipping"),
         _c("po_date", "TIMESTAMP", "date"), *_of("STRING", "status")),
        export_resource="purchase-orders", export_runs=_DAILY,
    ),
    _transactional(
        "inventory_bills", "accounting", "inventory-bills", "bill_date",
        (_JOB_ID, *_of("INT64", "purchase_order_id"),
         *_of("NUMERIC", "bill_amount", "tax_amount", "shipping_amount"),
         *_of("TIMESTAMP", "bill_date")),
        export_resource="inventory-bills", list_shape="array", export_runs=_ALWAYS,
    ),
    _transactional(
        "returns", "inventory", "returns", "return_date",
        # returnAmount includes tax and shipping (the spec's description).
        (_JOB_ID, *_of("INT64", "purchase_order_id"),
         *_of("NUMERIC", "return_amount", "tax_amount", "shipping_amount"),
         *_of("TIMESTAMP", "return_date"), *_of("STRING", "status"), _ACTIVE),
        extra_params=_ANY, export_resource="returns", export_runs=_DAILY,
    ),
    _reference("business_units", "settings", "business-units", _NAME, deletes=True,
               export_resource="business-units"),
    _reference(
        "technicians", "settings", "technicians", _NAME, *_of("INT64", "business_unit_id"),
        deletes=True, export_resource="technicians",
    ),
    _reference("job_types", "jpm", "job-types", _NAME),
    _reference("activity_codes", "payroll", "activity-codes", *_of("STRING", "code"), _NAME,
               export_resource="activity-codes"),
    _reference("campaigns", "marketing", "campaigns", _NAME),
)  # fmt: skip

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

    An entity with ``key_hash_fields`` (payroll gross-pay items, whose ``id`` the spec makes
    nullable and whose ``sourceEntityId`` repeats) is keyed by its ``id`` when the record
    has one; without it, by ``h`` + a SHA-256 of the identifying fields only, never of
    amounts or modification times, so an edited item replaces its old version instead of
    adding a second row.
    """
    if entity.key_hash_fields is not None:
        own = record.get("id")
        if own is not None:
            return str(own)
        ident = [dig(record, f) for f in entity.key_hash_fields]
        canon = json.dumps(ident, separators=(",", ":"), default=str)
        return "h" + hashlib.sha256(canon.encode()).hexdigest()[:32]
    parts = [dig(record, entity.column(k).sources[0]) for k in entity.key]
    if any(p is None for p in parts):
        raise ValueError(f"{entity.name} record has no key {entity.key}: {record!r:.200}")
    return "|".join(str(p) for p in parts)
