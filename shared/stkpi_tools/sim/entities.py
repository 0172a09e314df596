"""How the simulator makes each registry entity: one row per entity name, in one table.

The registry (``stkpi.registry``) says what an entity is; this table says how the simulator
invents it, and the registry never imports it (the simulator is tooling). A row names:

- ``code``: seeds the entity's own random streams (``generate`` and ``records``), so adding
  an entity never changes another's data. Never reuse or renumber a code.
- ``id_base``: where its ids start (0: dense ids from 0, as for hash-keyed records).
- ``generate``: the step that builds its arrays (``generate``). Entities drawn together
  (a job and its appointments) share one step; each step runs once, in table order, so an
  entity's row comes after the rows of the entities its step reads.
- ``render``: its API record, on demand (``records``).
- ``volume``: its production count visible at ``now`` (None: a fixed-size table).
"""

from __future__ import annotations

from dataclasses import dataclass

from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.generate import back_office, crm, sales
from stkpi_tools.sim.generate.timeline import Step, Timeline
from stkpi_tools.sim.records import back_office as bo_rec
from stkpi_tools.sim.records import crm as crm_rec
from stkpi_tools.sim.records import sales as sales_rec
from stkpi_tools.sim.records.view import Renderer, View
from stkpi_tools.sim.tables import Table


@dataclass(frozen=True)
class SimEntity:
    """How the simulator generates and renders one registry entity."""

    code: int
    id_base: int
    generate: Step
    render: Renderer
    volume: int | None = None


SIM_ENTITIES: dict[str, SimEntity] = {
    "business_units": SimEntity(1, 1_001, crm.reference, crm_rec.business_unit),
    "technicians": SimEntity(2, 7_001, crm.reference, crm_rec.technician, volume=160),
    "job_types": SimEntity(3, 2_001, crm.reference, crm_rec.job_type),
    "activity_codes": SimEntity(4, 301, crm.reference, crm_rec.activity_code),
    "campaigns": SimEntity(5, 501, crm.reference, crm_rec.campaign),
    "customers": SimEntity(6, 10_000_000, crm.customers_locations, crm_rec.customer, volume=74_124),
    "locations": SimEntity(7, 20_000_000, crm.customers_locations, crm_rec.location),
    "jobs": SimEntity(8, 40_000_000, crm.jobs_appointments, crm_rec.job, volume=226_588),
    "appointments": SimEntity(9, 50_000_000, crm.jobs_appointments, crm_rec.appointment),
    "estimates": SimEntity(10, 60_000_000, sales.estimates, sales_rec.estimate, volume=220_464),
    "invoices": SimEntity(
        11, 70_000_000, sales.invoices_payments, sales_rec.invoice, volume=172_833
    ),
    "payments": SimEntity(
        12, 80_000_000, sales.invoices_payments, sales_rec.payment, volume=192_856
    ),
    "gross_pay_items": SimEntity(13, 0, back_office.payroll, bo_rec.gross_pay_item),
    "payroll_adjustments": SimEntity(
        14, 90_000_000, back_office.payroll, bo_rec.payroll_adjustment, volume=12_000
    ),
    "purchase_orders": SimEntity(
        15, 95_000_000, back_office.purchasing, bo_rec.purchase_order, volume=34_000
    ),
    "inventory_bills": SimEntity(16, 96_000_000, back_office.purchasing, bo_rec.inventory_bill),
    "returns": SimEntity(17, 97_000_000, back_office.purchasing, bo_rec.return_),
}

CODES: dict[str, int] = {name: s.code for name, s in SIM_ENTITIES.items()}
ID_BASES: dict[str, int] = {name: s.id_base for name, s in SIM_ENTITIES.items()}
VOLUMES: dict[str, int] = {n: s.volume for n, s in SIM_ENTITIES.items() if s.volume is not None}


def build_tables(config: SimConfig) -> dict[str, Table]:
    """Every entity's arrays for ``config``: each distinct step once, in table order."""
    tl = Timeline(config, CODES, ID_BASES, VOLUMES)
    tables: dict[str, Table] = {}
    done: list[Step] = []
    for spec in SIM_ENTITIES.values():
        if spec.generate not in done:
            spec.generate(config, tl, tables)
            done.append(spec.generate)
    return tables


def view(tables: dict[str, Table], now: int, seed: int, bu_names: tuple[str, ...] = ()) -> View:
    """What a renderer sees of ``tables`` at ``now``."""
    return View(tables, now, seed, CODES, ID_BASES, bu_names)
