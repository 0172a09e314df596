"""Which ServiceTitan report and field feeds which KPI, per tenant: configuration as data.

``sql/seeds/report_map.csv`` (next to the BU map, same conventions: a header row, one row
per mapping, a malformed row is a ConfigError naming file and line). Report ids differ
between tenants, so every row names its ``tenant_id``; ``stkpi reconcile discover`` lists a
tenant's categories, reports and fields to fill it in. Columns:

- ``kpi``: one of ``RECONCILED_KPIS``;
- ``kind``: ``total`` (an aggregate report: one row per BU, ``value_field`` is the KPI) or
  ``records`` (a row-level report: one row per record; ``id_field`` names it, several ids
  joined with ``+``, e.g. ``PaymentId+InvoiceId``; ``date_field`` dates it; each row counts
  1, or ``value_field`` when given);
- ``category``, ``report_id``: where the report lives; ``bu_field``: the BU name column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from stkpi.errors import ConfigError
from stkpi.sqlfiles import sql_dir

RECONCILED_KPIS = ("leads", "estimates", "total_booked", "produced", "collected")
KINDS = ("total", "records")
COLUMNS = ("tenant_id", "kpi", "kind", "category", "report_id", "bu_field", "date_field",
           "id_field", "value_field")  # fmt: skip
COUNT_KPIS = frozenset({"leads", "estimates"})


@dataclass(frozen=True)
class ReportSource:
    """One report field feeding one KPI for one tenant."""

    tenant_id: str
    kpi: str
    kind: str
    category: str
    report_id: int
    bu_field: str
    date_field: str = ""
    id_field: str = ""
    value_field: str = ""

    @property
    def id_fields(self) -> tuple[str, ...]:
        return tuple(f for f in self.id_field.split("+") if f)


@dataclass(frozen=True)
class KpiSources:
    """The aggregate and row-level reports of one KPI."""

    total: ReportSource
    records: ReportSource


def default_report_map_path() -> Path:
    return sql_dir() / "seeds" / "report_map.csv"


def parse_row(where: str, rec: dict[str, str]) -> ReportSource:
    """One report-map row from its column values; a bad value is a ConfigError naming
    ``where`` (a file and line, or the command's options)."""
    values = {k: (rec.get(k) or "").strip() for k in COLUMNS}
    if values["kpi"] not in RECONCILED_KPIS:
        raise ConfigError(f"{where}: kpi must be one of {', '.join(RECONCILED_KPIS)}: "
                          f"{values['kpi']!r}")  # fmt: skip
    if values["kind"] not in KINDS:
        raise ConfigError(f"{where}: kind must be one of {', '.join(KINDS)}: {values['kind']!r}")
    for name in ("tenant_id", "category", "bu_field"):
        if not values[name]:
            raise ConfigError(f"{where}: empty {name}")
    try:
        report_id = int(values.pop("report_id"))
    except ValueError:
        raise ConfigError(
            f"{where}: report_id must be an integer: {rec.get('report_id')!r}"
        ) from None
    if values["kind"] == "total" and not values["value_field"]:
        raise ConfigError(f"{where}: a 'total' row needs value_field (the KPI's column)")
    if values["kind"] == "records" and not (values["id_field"] and values["date_field"]):
        raise ConfigError(f"{where}: a 'records' row needs id_field and date_field")
    return ReportSource(report_id=report_id, **values)


def load_report_map(path: Path | None = None) -> tuple[ReportSource, ...]:
    """Every row of the report map; a malformed row is a ConfigError naming the line."""
    path = path or default_report_map_path()
    if not path.exists():
        raise ConfigError(f"{path}: report map not found")
    rows: list[ReportSource] = []
    seen: set[tuple[str, str, str]] = set()
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ConfigError(f"{path}: columns must be {','.join(COLUMNS)}")
        for lineno, rec in enumerate(reader, start=2):
            row = parse_row(f"{path}:{lineno}", rec)
            key = (row.tenant_id, row.kpi, row.kind)
            if key in seen:
                raise ConfigError(f"{path}:{lineno}: duplicate {row.kind} row for tenant "
                                  f"{row.tenant_id} kpi {row.kpi}")  # fmt: skip
            seen.add(key)
            rows.append(row)
    return tuple(rows)


def sources_for(
    tenant_id: str, rows: tuple[ReportSource, ...], path: Path | None = None
) -> dict[str, KpiSources]:
    """KPI -> its reports for ``tenant_id``; a KPI needs both a total and a records row."""
    path = path or default_report_map_path()
    mine = [r for r in rows if r.tenant_id == tenant_id]
    if not mine:
        raise ConfigError(
            f"no report map for tenant {tenant_id}: `stkpi tenant init` proposes one from "
            "the tenant's reports (`stkpi reconcile discover` lists them; `stkpi tenant "
            "map-report` sets a row)"
        )
    out: dict[str, KpiSources] = {}
    for kpi in RECONCILED_KPIS:
        kinds = {r.kind: r for r in mine if r.kpi == kpi}
        if not kinds:
            continue
        missing = [k for k in KINDS if k not in kinds]
        if missing:
            raise ConfigError(f"{path}: tenant {tenant_id} kpi {kpi} has no {missing[0]!r} row")
        out[kpi] = KpiSources(kinds["total"], kinds["records"])
    return out
