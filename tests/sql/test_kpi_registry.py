"""Adding a KPI is its SQL file plus its registry row (docs/CONTRIBUTING.md).

A throwaway KPI, ``completed_jobs`` (jobs completed in the week per Production BU), is
added to a temporary copy of ``sql/`` and to the registry, nothing else; the build must
create its mart and carry it into the long table (``kpi_weekly``) and both wide tables.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from kpi_tenant import load_tenant

from stkpi import kpis
from stkpi.kpi_config import load_kpi_config
from stkpi.marts import build_marts
from stkpi.sqlfiles import sql_dir
from stkpi.warehouse import ensure_tables

pytestmark = pytest.mark.integration

THROWAWAY_SQL = """-- kpi_completed_jobs: jobs completed in the week per Production BU (a test's KPI).
CREATE OR REPLACE TABLE `${project}.${mart}.kpi_completed_jobs` AS
WITH weekly AS (
  SELECT d.week_start, j.bu, COUNT(*) AS completed_jobs
  FROM `${project}.${dim}.dim_jobs` AS j
  LEFT JOIN `${project}.${dim}.dim_week_days` AS d ON d.day = j.completed_date
  WHERE j.job_status = 'Completed' AND j.role IN ('Production', 'unmapped')
  GROUP BY d.week_start, j.bu
)

SELECT g.week_start, g.bu, g.region,
  COALESCE(a.completed_jobs, 0) AS value,
  COALESCE(a.completed_jobs, 0) AS numerator,
  CAST(NULL AS INT64) AS denominator
FROM `${project}.${dim}.dim_kpi_grid` AS g
LEFT JOIN weekly AS a ON a.week_start = g.week_start AND a.bu = g.bu
WHERE g.role = 'Production' AND (g.always_reported OR a.completed_jobs > 0);
"""


def test_a_kpi_added_to_the_registry_and_sql_flows_to_every_combined_table(
    bq_emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sql = tmp_path / "sql"
    shutil.copytree(sql_dir(), sql)
    (sql / "marts" / "kpi_completed_jobs.sql").write_text(THROWAWAY_SQL)
    monkeypatch.setenv("STKPI_SQL_DIR", str(sql))
    throwaway = kpis.Kpi(
        "completed_jobs", "Completed Jobs", "count", "Production", "job completedOn",
        "Completed jobs (Production BUs): jobs completed in the week.",
    )  # fmt: skip
    monkeypatch.setattr(kpis, "KPIS", (*kpis.KPIS, throwaway))

    client = bq_emulator.client
    settings = bq_emulator.settings.model_copy(update={"bq_dataset_prefix": "kpireg"})
    ensure_tables(client, settings)
    load_tenant(client, settings)
    counts = build_marts(client, settings, load_kpi_config(settings))
    mart = f"{settings.gcp_project}.{settings.dataset('mart')}"
    assert f"{settings.dataset('mart')}.kpi_completed_jobs" in counts

    def rows(sql_text: str) -> dict:
        return {(r[0], r[1]): r[2] for r in client.query(sql_text).result()}

    # The new KPI counts, per BU-week, exactly the completed jobs that warranty_pct divides
    # by (its denominator is "jobs completed in the week"): the same jobs, two KPIs.
    long = rows(
        f"SELECT week_start, bu, value FROM `{mart}.kpi_weekly` "
        "WHERE kpi = 'completed_jobs' AND kind = 'count'"
    )
    completed = rows(f"SELECT week_start, bu, denominator FROM `{mart}.kpi_warranty_pct`")
    assert long and long == completed
    assert sum(long.values()) > 0, "the fixture tenant completes jobs in its weeks"
    wide = rows(
        f"SELECT week_start, bu, completed_jobs FROM `{mart}.kpi_weekly_bu` "
        "WHERE completed_jobs IS NOT NULL"
    )
    assert wide == long
    region = rows(
        f"SELECT week_start, region, completed_jobs FROM `{mart}.kpi_weekly_region` "
        "WHERE completed_jobs IS NOT NULL"
    )
    assert sum(region.values()) == sum(long.values())
