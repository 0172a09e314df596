"""Build the KPI layer: seeds, then dims, then one mart per KPI, then the combined tables.

Every step is one SQL file under ``sql/`` (``CREATE OR REPLACE TABLE ... AS``), run in
dependency order, so a rebuild is idempotent and each number can be traced to its file.
``rebuild_dims`` calls :func:`build_marts` once per run, after every raw sync.
"""

from __future__ import annotations

from google.cloud import bigquery

from stkpi.config import Settings
from stkpi.kpi_config import KpiConfig, load_kpi_config, seed_params
from stkpi.sqlfiles import render, statements

SEED_TABLES: tuple[str, ...] = ("seed_bu_map", "seed_job_type_patterns", "seed_kpi_params")


# Dependency order: each dim reads only seeds, raw and the dims before it.
DIMS: tuple[str, ...] = (
    "dim_business_units",
    "dim_jobs",
    "dim_invoices",
    "dim_estimates",
    "dim_appointments",
    "dim_payment_applications",
    "dim_job_labor",
    "dim_job_materials",
    "dim_weeks",
    "dim_week_days",
    "dim_kpi_grid",
)

KPIS: tuple[str, ...] = (
    # Sales KPIs (Sales BUs)
    "leads",
    "estimates",
    "total_booked",
    "success_rate",
    "estimates_scheduled",
    # Production KPIs (Production BUs)
    "produced",
    "gpm",
    "future_bookings",
    "collected",
    "warranty_pct",
    "outstanding_ar",
)

RATIO_KPIS: frozenset[str] = frozenset({"success_rate", "gpm", "warranty_pct"})
MONEY_KPIS: frozenset[str] = frozenset(
    {"total_booked", "produced", "future_bookings", "collected", "outstanding_ar"}
)

COMBINED: tuple[str, ...] = ("kpi_weekly", "kpi_weekly_bu", "kpi_weekly_region")

MARTS: tuple[str, ...] = tuple(f"kpi_{k}" for k in KPIS) + COMBINED


def _run_file(
    client: bigquery.Client,
    relpath: str,
    settings: Settings,
    config: KpiConfig,
    **extra: str,
) -> None:
    sql = render(relpath, settings, report_tz=config.report_timezone, **extra)
    for stmt in statements(sql):
        client.query(stmt).result()


def _count(client: bigquery.Client, table: str) -> int:
    rows = list(client.query(f"SELECT COUNT(*) AS n FROM `{table}`").result())
    return int(rows[0]["n"])


def build_seeds(client: bigquery.Client, settings: Settings, config: KpiConfig) -> None:
    _run_file(client, "seeds/seeds.sql", settings, config, **seed_params(config))


def build_marts(
    client: bigquery.Client,
    settings: Settings,
    kpi_config: KpiConfig | None = None,
) -> dict[str, int]:
    """Rebuild seeds, dims and marts; return ``{"<dataset>.<table>": row count}`` in build order.

    Datasets and raw tables are the deployment's (terraform/bigquery.tf; locally
    ``stkpi.warehouse.ensure_tables``), not the rebuild's: rebuild_dims may only read raw,
    and creating a dataset or table needs permissions it does not have."""
    config = kpi_config or load_kpi_config(settings)
    project = settings.gcp_project
    dim_ds, mart_ds = settings.dataset("dim"), settings.dataset("mart")
    counts: dict[str, int] = {}
    build_seeds(client, settings, config)
    for table in SEED_TABLES:
        counts[f"{dim_ds}.{table}"] = _count(client, f"{project}.{dim_ds}.{table}")
    for table in DIMS:
        _run_file(client, f"dims/{table}.sql", settings, config)
        counts[f"{dim_ds}.{table}"] = _count(client, f"{project}.{dim_ds}.{table}")
    for table in MARTS:
        _run_file(client, f"marts/{table}.sql", settings, config)
        counts[f"{mart_ds}.{table}"] = _count(client, f"{project}.{mart_ds}.{table}")
    return counts
