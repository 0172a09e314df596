"""BigQuery side of the pipeline: staging loads, the raw MERGE, running SQL files.

Each window's load job writes its pages to a staging table of its own
(``st_stage.<entity>__<run>__<window>``, replaced on every load, so a second load of the
same window never doubles it); once all of an entity's windows are staged, one MERGE reads
all of them (``UNION ALL``) into raw (``stkpi.entity_merge``). So a backfill costs one MERGE
per entity however many windows it has (more only past BigQuery's limits on tables and
partitions per statement: ``stkpi.merge_slices``), and MERGE time follows the data, not the
window count. One table per window rather than one appended table per run: concurrent appends to
one table are where the BigQuery emulator loses rows (the entity MERGE's row check caught
it), and per-table modification quotas (1,500 a day) then never bind.

Every step can run twice. A load job's id is derived from the window and the manifest's
content, so a redelivered load message finds the job that already ran instead of starting
a second one; the MERGE is idempotent (latest version wins, ties change nothing) and is
retried with backoff when concurrent MERGEs into one table fail to serialize or find
BigQuery's DML queue for the table full.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from google.api_core.exceptions import BadRequest, Conflict, NotFound
from google.cloud import bigquery
from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from stkpi import raw_ddl, registry, sqlfiles
from stkpi.config import Settings
from stkpi.merge_slices import WHOLE, Slice, groups, partition_slices
from stkpi.registry import Entity
from stkpi.rows import LINEAGE_COLUMNS

# Long enough for a stalled run to be replayed; its entity MERGE drops them anyway.
STAGE_EXPIRATION = timedelta(days=7)
# Transient refusals of a DML statement: concurrent writers that failed to serialize, and
# BigQuery's queue of mutating DML per table being full (2 running, 20 queued).
_SERIALIZE = re.compile(
    r"serializ|concurrent update|could not serialize|conflict|DML statements outstanding", re.I
)


def _label(value: str) -> str:
    """BigQuery label values: lowercase letters, digits, ``_`` and ``-``, at most 63."""
    return re.sub(r"[^a-z0-9_-]", "_", value.lower())[:63]


def _ident(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", value)


def raw_schema(entity: Entity) -> list[bigquery.SchemaField]:
    cols = [(c.name, c.type) for c in entity.columns] + list(LINEAGE_COLUMNS)
    return [bigquery.SchemaField(name, type_) for name, type_ in cols]


def staging_table_id(entity: Entity, run_id: str, window_id: str) -> str:
    return _ident(f"{entity.name}__{run_id}__{window_id}")


def run_file(client: bigquery.Client, settings: Settings, relpath: str, **extra: str) -> None:
    """Run every statement of ``sql/<relpath>`` in order."""
    for statement in sqlfiles.statements(sqlfiles.render(relpath, settings, **extra)):
        client.query_and_wait(statement)


def ensure_datasets(client: bigquery.Client, settings: Settings) -> None:
    """Every layer's dataset. One that exists (terraform made it: an added tenant's,
    bigquery.tf) is only looked at: creating it needs ``bigquery.datasets.create`` on the
    project, which whoever adds a tenant may not hold, even for a dataset that exists."""
    for layer in ("raw", "stage", "dim", "mart", "ops"):
        ds = bigquery.Dataset(f"{settings.gcp_project}.{settings.dataset(layer)}")
        try:
            client.get_dataset(ds.reference)
            continue
        except NotFound:
            pass
        ds.location = settings.bq_location
        client.create_dataset(ds, exists_ok=True)


# Ops tables about the deployment rather than one tenant: only in the deployment's own ops
# dataset, never an added tenant's (docs/TENANTS.md).
DEPLOYMENT_OPS_TABLES = ("tenant_bu_map", "tenant_report_map", "tenants")


def ensure_tables(client: bigquery.Client, settings: Settings) -> None:
    """Create raw tables (DDL rendered from the entity registry), ops tables and ops views
    (DDL files in sql/ops); idempotent. For an added tenant's settings
    (stkpi.tenants.settings_for): its own datasets, without the deployment's tables."""
    ensure_datasets(client, settings)
    for entity in registry.ENTITIES:
        for statement in sqlfiles.statements(raw_ddl.render(entity, settings)):
            client.query_and_wait(statement)
    own = () if settings.deployment_dataset_prefix else DEPLOYMENT_OPS_TABLES
    for name in (
        "window_events",
        "run_events",
        "sync_state",
        "validation_results",
        "reconciliation",
        "quarantine",
        "delete_allowances",
        *own,
    ):
        run_file(client, settings, f"ops/{name}.sql")
    for name in ("windows", "runs"):
        run_file(client, settings, f"ops/{name}.sql")


def _is_serialization_error(exc: BaseException) -> bool:
    return isinstance(exc, (BadRequest, Conflict)) and bool(_SERIALIZE.search(str(exc)))


class Warehouse:
    """Loads and MERGEs for one project's datasets."""

    def __init__(self, client: bigquery.Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def _table(self, layer: str, table: str) -> str:
        return f"{self.settings.gcp_project}.{self.settings.dataset(layer)}.{table}"

    # -- staging load -------------------------------------------------------------------
    def load_staging(
        self,
        entity: Entity,
        *,
        run_id: str,
        window_id: str,
        uris: list[str],
        content_hash: str,
    ) -> tuple[str, str, int, bool]:
        """Load the window's pages into its expiring staging table with one load job.

        Returns (staging table, job id, rows loaded, whether an existing job was reused).
        """
        staging = staging_table_id(entity, run_id, window_id)
        table_ref = self._table("stage", staging)
        # Job ids are the project's, not the dataset's: the prefix keeps two tenants (or
        # deployments) with equal run and window ids from taking each other's load job.
        job_id = _ident(
            f"stkpi_load_{self.settings.bq_dataset_prefix}_{entity.name}_{run_id}_{window_id}"
            f"_{content_hash[:16]}"
        )
        job = self._existing_job(job_id)
        if job is not None and not self._reusable(job, table_ref):
            job_id, job = self._free_retry_id(job_id), None  # failed, or its staging is gone
        reused = job is not None
        if job is None:
            table = bigquery.Table(table_ref, schema=raw_schema(entity))
            table.expires = datetime.now(UTC) + STAGE_EXPIRATION
            self.client.create_table(table, exists_ok=True)
            config = bigquery.LoadJobConfig(
                source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
                schema=raw_schema(entity),
                write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
                labels=self._labels("load", entity.name, run_id, window_id),
            )
            try:
                job = self.client.load_table_from_uri(
                    uris, table_ref, job_id=job_id, job_config=config
                )
            except Conflict:  # a concurrent delivery started the same job first
                job = self.client.get_job(job_id)
                reused = True
        job.result()
        rows = int(getattr(job, "output_rows", None) or 0)
        return staging, job_id, rows, reused

    def _reusable(self, job: bigquery.LoadJob, table_ref: str) -> bool:
        """A finished job is reusable only if it succeeded and its staging table remains."""
        if job.state != "DONE":
            return True
        return not job.error_result and self._exists(table_ref)

    def _exists(self, table_ref: str) -> bool:
        try:
            self.client.get_table(table_ref)
        except NotFound:
            return False
        return True

    def _existing_job(self, job_id: str) -> bigquery.LoadJob | None:
        try:
            return self.client.get_job(job_id)  # type: ignore[return-value]
        except NotFound:
            return None

    def _free_retry_id(self, job_id: str) -> str:
        for attempt in range(1, 100):
            candidate = f"{job_id}_r{attempt}"
            if self._existing_job(candidate) is None:
                return candidate
        raise RuntimeError(f"too many failed attempts of load job {job_id}")

    def _labels(self, step: str, entity: str, run_id: str, window_id: str) -> dict[str, str]:
        return {
            "step": step,
            "entity": _label(entity),
            "run": _label(run_id),
            "window": _label(window_id),
        }

    def staged_rows(self, entity: Entity, run_id: str, window_ids: list[str]) -> int:
        """Rows in the staging tables of these windows (a missing table holds none)."""
        tables = [t for t in self._staging_tables(entity, run_id, window_ids) if self._exists(t)]
        total = 0
        for group in groups(tables):
            counts = " UNION ALL ".join(f"SELECT COUNT(*) AS n FROM `{t}`" for t in group)
            rows = self.client.query_and_wait(f"SELECT SUM(n) AS n FROM ({counts})")
            total += int(next(iter(rows))["n"] or 0)
        return total

    # -- merge --------------------------------------------------------------------------
    def merge(self, entity: Entity, *, run_id: str, window_ids: list[str]) -> int:
        """MERGE the staging tables of these windows of ``run_id`` into raw: one statement
        for a daily run, more for a batch too big for one (``stkpi.merge_slices``); returns
        rows written. Retries serialization conflicts."""
        config = bigquery.QueryJobConfig(
            labels=self._labels("merge", entity.name, run_id, f"{len(window_ids)}_windows")
        )
        written = 0
        for group in groups(self._staging_tables(entity, run_id, window_ids)):
            source = (
                f"`{group[0]}`"
                if len(group) == 1
                else "(" + " UNION ALL ".join(f"SELECT * FROM `{t}`" for t in group) + ")"
            )
            for piece in self._slices(entity, source):
                written += self._run_merge(self._merge_sql(entity, source, piece), config)
        return written

    def _staging_tables(self, entity: Entity, run_id: str, window_ids: list[str]) -> list[str]:
        return [self._table("stage", staging_table_id(entity, run_id, w)) for w in window_ids]

    @retry(
        retry=retry_if_exception(_is_serialization_error),
        wait=wait_random_exponential(multiplier=0.5, max=20),
        stop=stop_after_attempt(8),
        reraise=True,
    )
    def _run_merge(self, sql: str, config: bigquery.QueryJobConfig) -> int:
        job = self.client.query(sql, job_config=config, job_id_prefix="stkpi_merge_")
        job.result()
        return int(job.num_dml_affected_rows or 0)

    def _slices(self, entity: Entity, source: str) -> list[Slice]:
        """The batch's partition days in slices of at most BigQuery's partitions per
        statement (one slice for an entity without a partition field)."""
        field = entity.partition_field
        if field is None:
            return [WHOLE]
        sql = sqlfiles.render(
            "stage/partition_days.sql", self.settings, partition_field=field, source=source
        )
        return partition_slices(r["day"] for r in self.client.query_and_wait(sql))

    def _merge_sql(self, entity: Entity, source: str, piece: Slice) -> str:
        columns = [c.name for c in entity.columns] + [name for name, _ in LINEAGE_COLUMNS]
        keys = list(entity.key)
        field = entity.partition_field
        prune = piece.target_prune(field) if field and entity.partition_immutable else ""
        return sqlfiles.render(
            "stage/merge_raw.sql",
            self.settings,
            table=entity.raw_table,
            source=source,
            columns=", ".join(columns),
            source_columns=", ".join(f"S.{c}" for c in columns),
            keys=", ".join(keys),
            key_match=" AND ".join(f"T.{k} = S.{k}" for k in keys),
            version=entity.version_column,
            update_set=", ".join(f"{c} = S.{c}" for c in columns if c not in keys),
            slice=piece.source_filter(field),
            prune=prune,
        )

    def drop_staging(self, entity: Entity, run_id: str, window_ids: list[str]) -> None:
        """Drop these windows' staging tables (the emulator ignores expiration)."""
        for table in self._staging_tables(entity, run_id, window_ids):
            self.client.delete_table(table, not_found_ok=True)
