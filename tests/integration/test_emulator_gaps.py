"""Known differences between bqemulator and BigQuery (docs/EMULATOR_GAPS.md).

Each ``test_gap_*`` asserts the emulator STILL behaves wrongly: when one fails, the gap
has closed (an emulator upgrade) and the doc and the portable workaround can be revisited.
Each ``test_portable_*`` proves the form the project uses instead works here (and is
standard BigQuery, so it works there too).
"""

from __future__ import annotations

import datetime as dt
import gzip
import uuid

import pytest
from google.api_core.exceptions import BadRequest, Conflict, NotFound, PreconditionFailed
from google.cloud import bigquery

pytestmark = pytest.mark.integration

WED = "DATE '2024-01-10'"  # a Wednesday; its ISO (Monday) week starts 2024-01-08
SUN = "DATE '2024-01-14'"  # a Sunday; same Monday week, 2024-01-08


def _one(client: bigquery.Client, sql: str):
    return next(iter(client.query(sql).result()))[0]


# --- Monday weeks ---------------------------------------------------------------------

MONDAY_OF = "DATE_SUB({d}, INTERVAL MOD(EXTRACT(DAYOFWEEK FROM {d}) + 5, 7) DAY)"


def test_gap_date_trunc_week_monday_returns_sunday(bq_emulator) -> None:
    client = bq_emulator.client
    assert _one(client, f"SELECT DATE_TRUNC({WED}, WEEK(MONDAY))") == dt.date(2024, 1, 7)
    assert _one(client, f"SELECT DATE_TRUNC({SUN}, WEEK(MONDAY))") == dt.date(2024, 1, 14)


def test_gap_date_trunc_isoweek_fails(bq_emulator) -> None:
    with pytest.raises(BadRequest):
        _one(bq_emulator.client, f"SELECT DATE_TRUNC({WED}, ISOWEEK)")


def test_gap_timestamp_trunc_week_monday_with_zone_fails(bq_emulator) -> None:
    with pytest.raises(BadRequest):
        _one(
            bq_emulator.client,
            "SELECT TIMESTAMP_TRUNC(TIMESTAMP '2024-01-10 12:00:00+00', WEEK(MONDAY),"
            " 'America/Phoenix')",
        )


def test_gap_last_day_week_monday_returns_month_end(bq_emulator) -> None:
    got = _one(bq_emulator.client, "SELECT LAST_DAY(DATE '2024-02-10', WEEK(MONDAY))")
    assert got == dt.date(2024, 2, 29)  # BigQuery: 2024-02-11 (the Sunday ending that week)


@pytest.mark.parametrize(
    ("day", "monday"),
    [
        ("2024-01-08", "2024-01-08"),  # Monday
        ("2024-01-10", "2024-01-08"),  # Wednesday
        ("2024-01-14", "2024-01-08"),  # Sunday
        ("2024-01-01", "2024-01-01"),  # Monday, new year
        ("2023-12-31", "2023-12-25"),  # Sunday, year end
    ],
)
def test_portable_monday_week_start(bq_emulator, day: str, monday: str) -> None:
    got = _one(bq_emulator.client, "SELECT " + MONDAY_OF.format(d=f"DATE '{day}'"))
    assert got == dt.date.fromisoformat(monday)


def test_portable_monday_week_of_timestamp_in_report_zone(bq_emulator) -> None:
    # 2024-01-15 05:00 UTC is Sunday 2024-01-14 22:00 in Phoenix: week of 2024-01-08.
    local = "DATE(TIMESTAMP '2024-01-15 05:00:00+00', 'America/Phoenix')"
    assert _one(bq_emulator.client, "SELECT " + MONDAY_OF.format(d=local)) == dt.date(2024, 1, 8)


def test_portable_week_end_is_monday_plus_six(bq_emulator) -> None:
    sql = "SELECT DATE_ADD(" + MONDAY_OF.format(d="DATE '2024-02-10'") + ", INTERVAL 6 DAY)"
    assert _one(bq_emulator.client, sql) == dt.date(2024, 2, 11)


# --- MERGE ---------------------------------------------------------------------------


def test_gap_merge_insert_row_does_not_parse(bq_emulator, dataset) -> None:
    client = bq_emulator.client
    client.query(f"CREATE TABLE `{dataset}.t` (id INT64, v STRING)").result()
    with pytest.raises(BadRequest):
        client.query(
            f"MERGE `{dataset}.t` T USING (SELECT 1 AS id, 'a' AS v) S ON T.id = S.id"
            " WHEN NOT MATCHED THEN INSERT ROW"
        ).result()


def test_portable_merge_insert_with_column_list(bq_emulator, dataset) -> None:
    client = bq_emulator.client
    client.query(f"CREATE TABLE `{dataset}.t` (id INT64, v STRING)").result()
    client.query(
        f"MERGE `{dataset}.t` T USING (SELECT 1 AS id, 'a' AS v) S ON T.id = S.id"
        " WHEN NOT MATCHED THEN INSERT (id, v) VALUES (S.id, S.v)"
    ).result()
    assert _one(client, f"SELECT COUNT(*) FROM `{dataset}.t`") == 1


# --- job ids ---------------------------------------------------------------------------


def _append_job(bq_emulator, dataset: str, job_id: str):
    path = bq_emulator.gcs_root / "gaps" / dataset / f"{job_id}.json.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(b'{"id": 1}\n{"id": 2}\n'))
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        schema=[bigquery.SchemaField("id", "INT64")],
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
    )
    uri = f"gs://gaps/{dataset}/{job_id}.json.gz"
    return bq_emulator.client, uri, config


def test_gap_reused_job_id_reruns_instead_of_conflict(bq_emulator, dataset) -> None:
    job_id = f"gap-{uuid.uuid4().hex[:8]}"
    client, uri, config = _append_job(bq_emulator, dataset, job_id)
    client.load_table_from_uri(uri, f"{dataset}.t", job_id=job_id, job_config=config).result()
    # BigQuery raises Conflict (409 duplicate job id); the emulator runs the job again.
    client.load_table_from_uri(uri, f"{dataset}.t", job_id=job_id, job_config=config).result()
    assert client.get_table(f"{dataset}.t").num_rows == 4


def test_portable_get_job_before_insert_is_idempotent(bq_emulator, dataset) -> None:
    job_id = f"port-{uuid.uuid4().hex[:8]}"
    client, uri, config = _append_job(bq_emulator, dataset, job_id)

    def load_once():
        try:
            job = client.get_job(job_id)
        except NotFound:
            try:
                job = client.load_table_from_uri(
                    uri, f"{dataset}.t", job_id=job_id, job_config=config
                )
            except Conflict:
                job = client.get_job(job_id)
        return job.result()

    load_once()
    load_once()
    assert client.get_table(f"{dataset}.t").num_rows == 2


# --- table metadata --------------------------------------------------------------------


def test_gap_table_expiration_is_ignored(bq_emulator, dataset) -> None:
    client = bq_emulator.client
    table = bigquery.Table(f"{dataset}.stage", schema=[bigquery.SchemaField("id", "INT64")])
    table.expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    client.create_table(table)
    assert client.get_table(f"{dataset}.stage").expires is None
    client.query(
        f"CREATE TABLE `{dataset}.stage2` (id INT64)"
        " OPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR))"
    ).result()
    assert client.get_table(f"{dataset}.stage2").expires is None


def test_portable_stage_table_is_deleted_after_merge(bq_emulator, dataset) -> None:
    client = bq_emulator.client
    table = bigquery.Table(f"{dataset}.stage", schema=[bigquery.SchemaField("id", "INT64")])
    table.expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    client.create_table(table)
    client.delete_table(f"{dataset}.stage", not_found_ok=True)
    client.delete_table(f"{dataset}.stage", not_found_ok=True)  # a replay is harmless
    assert [t.table_id for t in client.list_tables(dataset)] == []


def test_gap_partitioning_and_clustering_not_in_metadata(bq_emulator, dataset) -> None:
    client = bq_emulator.client
    client.query(
        f"CREATE TABLE `{dataset}.p` (id INT64, created_on TIMESTAMP)"
        " PARTITION BY DATE(created_on) CLUSTER BY id"
    ).result()
    table = client.get_table(f"{dataset}.p")
    assert table.time_partitioning is None
    assert table.clustering_fields is None


def test_gap_region_information_schema_jobs_unsupported(bq_emulator) -> None:
    with pytest.raises(BadRequest):
        _one(bq_emulator.client, "SELECT COUNT(*) FROM `region-us`.INFORMATION_SCHEMA.JOBS")


# --- Cloud Storage ----------------------------------------------------------------------


def test_gap_conditional_delete_ignores_the_generation(gcs_emulator) -> None:
    bucket = gcs_emulator.client.create_bucket(f"gaps-{uuid.uuid4().hex[:8]}")
    blob = bucket.blob("x")
    blob.upload_from_string(b"1", if_generation_match=0)
    first = blob.generation
    blob.upload_from_string(b"2", if_generation_match=first)
    with pytest.raises(PreconditionFailed):  # writes do honour a stale generation
        blob.upload_from_string(b"3", if_generation_match=first)
    bucket.blob("x").delete(if_generation_match=first)  # GCS: 412; the emulator deletes
    assert bucket.get_blob("x") is None


# --- named parameters in DML with a subquery -----------------------------------------------


def _dml_table(client: bigquery.Client, dataset: str) -> str:
    table = f"{dataset}.marks"
    client.query(
        f"CREATE TABLE `{table}` (id INT64, created_on TIMESTAMP, deleted_at TIMESTAMP)"
    ).result()
    client.query(
        f"INSERT INTO `{table}` (id, created_on) VALUES "
        "(1, TIMESTAMP '2024-01-01'), (2, TIMESTAMP '2024-01-02'), (3, TIMESTAMP '2024-01-03')"
    ).result()
    return table


def _ts_params(**values: str) -> bigquery.QueryJobConfig:
    return bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter(k, "TIMESTAMP", v) for k, v in values.items()
        ]
    )


def test_gap_parameter_named_in_a_comment_counts_as_a_parameter(bq_emulator, dataset) -> None:
    client = bq_emulator.client
    table = _dml_table(client, dataset)
    params = _ts_params(at="2024-02-01T00:00:00Z", lo="2024-01-01T00:00:00Z")
    update = f"UPDATE `{table}` AS T SET deleted_at = @at WHERE T.created_on >= @lo"
    client.query("-- a plain comment\n" + update, job_config=params).result()  # fine
    with pytest.raises(BadRequest, match="Parameter argument/count mismatch"):
        client.query("-- sets deleted_at to @at\n" + update, job_config=params).result()


def test_portable_dml_with_literal_timestamps(bq_emulator, dataset) -> None:
    # sql/stage/mark_deleted.sql: times rendered from the stored plan, no parameters
    client = bq_emulator.client
    table = _dml_table(client, dataset)
    client.query(
        f"UPDATE `{table}` AS T SET deleted_at = TIMESTAMP '2024-02-01T00:00:00Z' "
        "WHERE T.created_on >= TIMESTAMP '2024-01-01T00:00:00Z' AND T.id NOT IN (SELECT 2 AS id)"
    ).result()
    rows = client.query(f"SELECT id FROM `{table}` WHERE deleted_at IS NOT NULL").result()
    assert sorted(r["id"] for r in rows) == [1, 3]


def test_gap_local_time_travel_is_refused_not_read_from_the_live_table(
    bq_emulator, dataset
) -> None:
    # The stack's bqemulator takes no time-travel copies (stkpi_tools.localstack.bq_snapshots):
    # a read of the past fails loudly instead of answering with today's rows.
    client = bq_emulator.client
    client.query(f"CREATE TABLE `{dataset}.t` AS SELECT 1 AS x").result()
    client.query(f"INSERT INTO `{dataset}.t` (x) VALUES (2)").result()
    assert _one(client, f"SELECT COUNT(*) FROM `{dataset}.t`") == 2  # writes work as before
    with pytest.raises(BadRequest, match="not available on the local stack"):
        _one(
            client, f"SELECT COUNT(*) FROM `{dataset}.t` FOR SYSTEM_TIME AS OF CURRENT_TIMESTAMP()"
        )


def test_gap_a_failed_sync_query_is_raised_on_the_stack(bq_emulator, dataset) -> None:
    # bqemulator answers a failed jobs.query with 200 and no rows; the stack raises the
    # error as BigQuery does (stkpi_tools.localstack.bq_query_errors), so query_and_wait
    # can never mistake a missing table or bad SQL for an empty result.
    client = bq_emulator.client
    with pytest.raises(NotFound, match="missing"):
        list(client.query_and_wait(f"SELECT * FROM `{dataset}.missing`"))
    table = _dml_table(client, dataset)
    with pytest.raises(BadRequest):
        list(client.query_and_wait(f"SELECT no_such_column FROM `{table}`"))
    assert [r[0] for r in client.query_and_wait("SELECT 1")] == [1]
