"""Build the KPI layer: seeds, then dims, then one mart per KPI, then the combined tables.

Every step is one SQL file under ``sql/`` (``CREATE OR REPLACE TABLE ... AS``), run in
dependency order, so a rebuild is idempotent and each number can be traced to its file.
``rebuild_dims`` calls :func:`build_marts` once per run, after every raw sync.
"""

from __future__ import annotations

from google.cloud import bigquery

from stkpi import deadline, kpis
from stkpi.config import Settings
from stkpi.kpi_config import KpiConfig, seed_params
from stkpi.sqlfiles import render, statements
from stkpi.table_stats import row_counts

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

# The KPI registry's names (stkpi.kpis), in its order: Sales, then Production.
KPIS: tuple[str, ...] = kpis.NAMES
RATIO_KPIS: frozenset[str] = frozenset(kpis.names(kind="ratio"))
MONEY_KPIS: frozenset[str] = frozenset(kpis.names(kind="money"))

COMBINED: tuple[str, ...] = ("kpi_weekly", "kpi_weekly_bu", "kpi_weekly_region")


def marts() -> tuple[str, ...]:
    """Every mart in build order: one per registry KPI (read at build time, so a KPI added
    to the registry is built without touching this module), then the combined tables."""
    return tuple(k.mart for k in kpis.KPIS) + COMBINED


def _run_file(
    client: bigquery.Client,
    relpath: str,
    settings: Settings,
    config: KpiConfig,
    **extra: str,
) -> None:
    sql = render(relpath, settings, report_tz=config.report_timezone, **extra)
    for stmt in statements(sql):
        deadline.check(relpath)  # a rebuild past its delivery's deadline stops here
        client.query_and_wait(stmt)


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
    if kpi_config is None:  # the CLI's `kpi-build`: the tenant of its settings
        from stkpi.tenant_maps import kpi_config_for

        kpi_config = kpi_config_for(client, settings, settings.st_tenant_id)
    config = kpi_config
    project = settings.gcp_project
    dim_ds, mart_ds = settings.dataset("dim"), settings.dataset("mart")
    built = [f"{dim_ds}.{table}" for table in SEED_TABLES]
    build_seeds(client, settings, config)
    for table in DIMS:
        _run_file(client, f"dims/{table}.sql", settings, config)
        built.append(f"{dim_ds}.{table}")
    for table in marts():
        _run_file(
            client, f"marts/{table}.sql", settings, config, **registry_sql(f"{project}.{mart_ds}")
        )
        built.append(f"{mart_ds}.{table}")
    counts = row_counts(client, settings, [f"{project}.{name}" for name in built])
    return {name: counts[f"{project}.{name}"] for name in built}


def registry_sql(mart: str) -> dict[str, str]:
    """The parts of the combined tables that list every KPI, from the registry; ``mart``
    is ``project.dataset`` of the KPI marts.

    ``kpi_union``: one SELECT per KPI mart for the long table, ratio KPIs first (the
    emulator types a UNION by its first branch), every number as NUMERIC (a count's value and
    a count ratio's parts are INT64 in their marts; casting a ratio's value would round it).
    ``kpi_columns``: one pivoted column per KPI for the wide tables."""
    ordered = sorted(kpis.KPIS, key=lambda k: k.kind != "ratio")
    union = "\n  UNION ALL\n".join(
        f"  SELECT week_start, bu, region, '{k.name}' AS kpi, '{k.kind}' AS kind,\n"
        f"    {'CAST(value AS NUMERIC)' if k.kind == 'count' else 'value'} AS value,\n"
        "    CAST(numerator AS NUMERIC) AS numerator,\n"
        "    CAST(denominator AS NUMERIC) AS denominator\n"
        f"  FROM `{mart}.{k.mart}`"
        for k in ordered
    )
    columns = ",\n".join(f"  MAX(IF(kpi = '{k.name}', value, NULL)) AS {k.name}" for k in kpis.KPIS)
    return {"kpi_union": union, "kpi_columns": columns}
