"""Make the wide KPI tables Looker Studio-ready: a description on every column.

Looker Studio shows a BigQuery column's description as the field's description, so an
analyst connecting ``kpi_weekly_bu`` / ``kpi_weekly_region`` sees what each number means
(rule, unit, date basis) without this repository. See docs/LOOKER_STUDIO.md.

Descriptions are set with the BigQuery API (``update_table`` on the schema) after each
build, since ``CREATE OR REPLACE TABLE`` drops them. The local emulator may ignore them;
that is reported, never raised.
"""

from __future__ import annotations

from google.cloud import bigquery

from stkpi import kpis, logs
from stkpi.config import Settings

log = logs.get(__name__)

_WEEK = "Week start (Monday; weeks run Monday..Sunday in the report time zone)."
_RATIO = " A fraction (0.2345 = 23.45%): format as percent. Ratio of the week's sums."
_MONEY = " US dollars, rounded to cents."

_UNIT = {"count": " Count.", "money": _MONEY, "ratio": _RATIO}
# From the KPI registry (stkpi.kpis): what each number means, then its unit.
KPI_DESCRIPTIONS: dict[str, str] = {k.name: k.description + _UNIT[k.kind] for k in kpis.KPIS}

TABLE_DESCRIPTIONS: dict[str, str] = {
    "kpi_weekly_bu": (
        "Weekly KPIs, one row per business unit and week (Monday). NULL where a KPI is not "
        "reported for the BU's role. Buckets 'unmapped' (BU not in the map) and 'unlinked' "
        "(invoices without a job) appear when non-empty."
    ),
    "kpi_weekly_region": (
        "Weekly KPIs, one row per region and week (Monday): counts and money summed over "
        "the region's BUs, ratios recomputed as ratios of sums."
    ),
}

COLUMN_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "kpi_weekly_bu": {
        "week_start": _WEEK,
        "bu": "Business unit (normalized name from the BU map), or 'unmapped' / 'unlinked'.",
        "region": "Region rollup of the business unit (e.g. PHX, TUC, NEV).",
        **KPI_DESCRIPTIONS,
    },
    "kpi_weekly_region": {
        "week_start": _WEEK,
        "region": "Region rollup (e.g. PHX, TUC, NEV), or 'unmapped' / 'unlinked'.",
        **KPI_DESCRIPTIONS,
    },
}


def describe_mart_tables(client: bigquery.Client, settings: Settings) -> dict[str, str]:
    """Set table and column descriptions on the wide tables; ``{table: outcome}``.

    Outcome is ``"described"``, ``"not kept by this BigQuery"`` (the emulator) or the
    error; nothing raises.
    """
    outcomes: dict[str, str] = {}
    dataset = f"{settings.gcp_project}.{settings.dataset('mart')}"
    for table_name, columns in COLUMN_DESCRIPTIONS.items():
        ref = f"{dataset}.{table_name}"
        try:
            table = client.get_table(ref)
            table.description = TABLE_DESCRIPTIONS[table_name]
            table.schema = [
                _described(f, columns.get(f.name.lower(), f.description)) for f in table.schema
            ]
            client.update_table(table, ["description", "schema"])
            kept = client.get_table(ref)
            ok = any(f.description for f in kept.schema)
            outcomes[table_name] = "described" if ok else "not kept by this BigQuery"
        except Exception as exc:
            log.warning(
                "column descriptions not set", extra={"table": ref, "error": str(exc)[:300]}
            )
            outcomes[table_name] = f"{type(exc).__name__}: {str(exc)[:200]}"
    return outcomes


def _described(field: bigquery.SchemaField, description: str | None) -> bigquery.SchemaField:
    api = field.to_api_repr()
    if description:
        api["description"] = description
    return bigquery.SchemaField.from_api_repr(api)
