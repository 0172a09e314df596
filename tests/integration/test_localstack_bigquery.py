"""bqemulator through the official client: the features the pipeline relies on."""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import json
import uuid

import pytest
from google.api_core.exceptions import Conflict, NotFound
from google.cloud import bigquery

from stkpi import raw_ddl
from stkpi.registry import ENTITIES, get_entity
from stkpi.sqlfiles import statements
from stkpi.table_stats import RawStats, raw_table_stats

pytestmark = pytest.mark.integration


def _q(client: bigquery.Client, sql: str, **kw) -> list[dict]:
    return [dict(r.items()) for r in client.query(sql, **kw).result()]


def test_bq_emulator_answers_a_query(bq_emulator) -> None:
    assert _q(bq_emulator.client, "SELECT 1 AS one") == [{"one": 1}]


def test_raw_ddl_creates_partitioned_table(bq_emulator) -> None:
    client, settings = bq_emulator.client, bq_emulator.settings
    client.create_dataset(f"{bq_emulator.project}.{settings.dataset('raw')}", exists_ok=True)
    for stmt in statements(raw_ddl.render(get_entity("jobs"), settings)):
        client.query(stmt).result()
    table = client.get_table(f"{bq_emulator.project}.{settings.dataset('raw')}.jobs")
    names = [f.name for f in table.schema]
    assert names[0] == "id" and "payload" in names and "_window_id" in names
    # Re-running the DDL is a no-op (IF NOT EXISTS).
    for stmt in statements(raw_ddl.render(get_entity("jobs"), settings)):
        client.query(stmt).result()


def _write_ndjson_gz(bq_emulator, bucket: str, name: str, rows: list[dict]) -> str:
    path = bq_emulator.gcs_root / bucket / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in rows).encode()))
    return f"gs://{bucket}/{name}"


def test_load_job_reads_gzipped_ndjson_from_gs_with_deterministic_id(bq_emulator, dataset) -> None:
    client = bq_emulator.client
    rows = [
        {"id": i, "total": "12.34", "modified_on": "2024-01-02T03:04:05Z", "payload": "{}"}
        for i in range(1, 501)
    ]
    uri = _write_ndjson_gz(bq_emulator, "landing-test", f"{dataset}/page-00001.json.gz", rows)
    table = f"{dataset}.stage_load"
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        schema=[
            bigquery.SchemaField("id", "INT64", mode="REQUIRED"),
            bigquery.SchemaField("total", "NUMERIC"),
            bigquery.SchemaField("modified_on", "TIMESTAMP"),
            bigquery.SchemaField("payload", "STRING"),
        ],
        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        labels={"step": "load", "entity": "jobs"},
    )
    job_id = f"load-{uuid.uuid4().hex[:8]}"
    job = client.load_table_from_uri(uri, table, job_id=job_id, job_config=config)
    job.result()
    assert job.output_rows == 500
    assert client.get_table(table).num_rows == 500
    # The emulator does not reject a reused job id (see docs/EMULATOR_GAPS.md), so the
    # portable form looks the job up first; on real BigQuery insert raises Conflict.
    assert _load_once(client, uri, table, job_id, config).job_id == job_id
    assert client.get_table(table).num_rows == 500


def _load_once(client, uri, table, job_id, config):
    """Portable idempotent load: reuse the job with this id if any, else start it."""
    try:
        job = client.get_job(job_id)
    except NotFound:
        try:
            job = client.load_table_from_uri(uri, table, job_id=job_id, job_config=config)
        except Conflict:
            job = client.get_job(job_id)
    job.result()
    return job


def test_merge_with_explicit_columns_is_repeatable(bq_emulator, dataset) -> None:
    client = bq_emulator.client
    client.query(
        f"CREATE TABLE `{dataset}.target` (id INT64, v STRING, modified_on TIMESTAMP)"
    ).result()
    client.query(
        f"""CREATE TABLE `{dataset}.batch` AS
        SELECT 1 AS id, 'a' AS v, TIMESTAMP '2024-01-01 00:00:00+00' AS modified_on UNION ALL
        SELECT 1, 'b', TIMESTAMP '2024-01-02 00:00:00+00' UNION ALL
        SELECT 2, 'c', TIMESTAMP '2024-01-01 00:00:00+00'"""
    ).result()
    merge = f"""
    MERGE `{dataset}.target` T
    USING (
      SELECT * FROM `{dataset}.batch`
      WHERE TRUE
      QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY modified_on DESC) = 1
    ) S
    ON T.id = S.id
    WHEN MATCHED AND S.modified_on >= T.modified_on THEN
      UPDATE SET v = S.v, modified_on = S.modified_on
    WHEN NOT MATCHED THEN
      INSERT (id, v, modified_on) VALUES (S.id, S.v, S.modified_on)
    """
    for _ in range(2):
        client.query(merge).result()
    got = _q(client, f"SELECT id, v FROM `{dataset}.target` ORDER BY id")
    assert got == [{"id": 1, "v": "b"}, {"id": 2, "v": "c"}]


def test_numeric_sums_exactly(bq_emulator) -> None:
    rows = _q(
        bq_emulator.client,
        "SELECT SUM(x) AS s FROM UNNEST([NUMERIC '0.1', NUMERIC '0.2', NUMERIC '1234567.89']) x",
    )
    assert rows[0]["s"] == decimal.Decimal("1234568.19")


def test_date_in_report_timezone(bq_emulator) -> None:
    rows = _q(
        bq_emulator.client,
        "SELECT DATE(TIMESTAMP '2024-03-10 05:30:00+00', 'America/Phoenix') AS d",
    )
    assert rows[0]["d"] == dt.date(2024, 3, 9)


def test_json_value_on_string_payload(bq_emulator) -> None:
    rows = _q(
        bq_emulator.client,
        """SELECT JSON_VALUE(p, '$.job.id') AS job_id, JSON_VALUE(p, '$.name') AS name
        FROM UNNEST(['{"job": {"id": 42}, "name": "Test A"}']) p""",
    )
    assert rows == [{"job_id": "42", "name": "Test A"}]


def test_raw_table_stats_reads_every_table_at_once_and_names_a_missing_one(bq_emulator) -> None:
    # Jobs holds 2 rows, the newer modified 2024-01-03; invoices exists but is empty;
    # every other raw table is missing. One UNION ALL over all of them fails on the
    # missing ones, so each table is read on its own: jobs (2, 2024-01-03), invoices
    # (0, None), NotFound for the rest.
    client = bq_emulator.client
    settings = bq_emulator.settings.model_copy(
        update={"bq_dataset_prefix": f"rs_{uuid.uuid4().hex[:8]}"}
    )
    raw = f"{bq_emulator.project}.{settings.dataset('raw')}"
    client.create_dataset(raw)
    try:
        for name in ("jobs", "invoices"):
            for stmt in statements(raw_ddl.render(get_entity(name), settings)):
                client.query(stmt).result()
        client.query(
            f"INSERT INTO `{raw}.jobs` (id, modified_on, payload) VALUES "
            "(1, TIMESTAMP '2024-01-02 00:00:00+00', '{}'), "
            "(2, TIMESTAMP '2024-01-03 00:00:00+00', '{}')"
        ).result()
        stats = raw_table_stats(client, settings)
        assert stats["jobs"] == RawStats(2, dt.datetime(2024, 1, 3, tzinfo=dt.UTC), 2)
        assert stats["invoices"] == RawStats(0, None, 0)
        missing = [name for name, s in stats.items() if isinstance(s, NotFound)]
        assert sorted(missing) == sorted(e.name for e in ENTITIES if e.name not in
                                         ("jobs", "invoices"))  # fmt: skip
        # Every table there: one answer, the same numbers.
        two = [get_entity("jobs"), get_entity("invoices")]
        assert raw_table_stats(client, settings, two) == {k: stats[k] for k in ("jobs", "invoices")}
    finally:
        client.delete_dataset(raw, delete_contents=True, not_found_ok=True)
