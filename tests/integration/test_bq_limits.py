"""The local BigQuery refuses what BigQuery's limits refuse (stkpi_tools.localstack.bq_limits).

BigQuery fails a job that writes more than 4,000 partitions of a table (a DML statement or
a load job: nothing is written) and a query longer than 1,024K characters. bqemulator runs
both; the local stack's BigQuery (``bq_server``) refuses them with BigQuery's words, so the
pipeline's SQL meets the limits on the emulator first (docs/EMULATOR_GAPS.md).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest
from google.api_core.exceptions import BadRequest
from google.cloud import bigquery

from stkpi_tools.localstack.bq_limits import MAX_PARTITIONS, MAX_QUERY_CHARS

pytestmark = pytest.mark.integration

DAY0 = dt.date(2013, 1, 1)


def _days(n: int) -> str:
    """``n`` consecutive days from DAY0, one row each (``d``, ``i``)."""
    return (
        f"SELECT DATE_ADD(DATE '{DAY0}', INTERVAL i DAY) AS d, i "
        f"FROM UNNEST(GENERATE_ARRAY(0, {n - 1})) AS i"
    )


def _table(client: bigquery.Client, dataset: str) -> str:
    table = f"{dataset}.daily"
    client.query_and_wait(
        f"CREATE TABLE `{table}` (i INT64, created_on TIMESTAMP, v STRING) "
        "PARTITION BY DATE(created_on) CLUSTER BY i"
    )
    return table


def _rows(client: bigquery.Client, table: str) -> int:
    return int(next(iter(client.query_and_wait(f"SELECT COUNT(*) AS n FROM `{table}`")))["n"])


def _insert(n: int, table: str) -> str:
    return f"INSERT INTO `{table}` (i, created_on, v) SELECT i, TIMESTAMP(d), 'a' FROM ({_days(n)})"


def test_a_dml_statement_writing_more_than_4000_partitions_fails_and_writes_nothing(
    bq_emulator, dataset
) -> None:
    client = bq_emulator.client
    table = _table(client, dataset)
    with pytest.raises(BadRequest, match="Too many partitions produced by query, allowed 4000"):
        client.query(_insert(MAX_PARTITIONS + 1, table)).result()
    assert _rows(client, table) == 0  # rolled back, as BigQuery's failed job writes nothing
    client.query(_insert(MAX_PARTITIONS, table)).result()  # exactly at the limit: allowed
    assert _rows(client, table) == MAX_PARTITIONS
    # Through jobs.query (query_and_wait) too, and for UPDATE and MERGE: one more day makes
    # 4,001 partitions written by one statement.
    client.query_and_wait(
        f"INSERT INTO `{table}` (i, created_on, v) "
        f"VALUES (-1, TIMESTAMP '2030-01-01 00:00:00+00', 'a')"
    )
    with pytest.raises(BadRequest, match="Too many partitions"):
        client.query_and_wait(f"UPDATE `{table}` SET v = 'b' WHERE TRUE")
    merge = (
        f"MERGE `{table}` AS T USING (SELECT i FROM `{table}`) AS S ON T.i = S.i "
        "WHEN MATCHED THEN UPDATE SET v = 'c'"
    )
    with pytest.raises(BadRequest, match="Too many partitions"):
        client.query_and_wait(merge)
    untouched = client.query_and_wait(f"SELECT DISTINCT v FROM `{table}`")
    assert [r["v"] for r in untouched] == ["a"]
    # Writing few partitions of a table that has many is fine: what counts is what a
    # statement writes, not what the table holds.
    client.query_and_wait(f"UPDATE `{table}` SET v = 'b' WHERE i BETWEEN 0 AND 9")
    rows = client.query_and_wait(f"SELECT v, COUNT(*) AS n FROM `{table}` GROUP BY v ORDER BY v")
    assert [(r["v"], r["n"]) for r in rows] == [("a", MAX_PARTITIONS + 1 - 10), ("b", 10)]


def test_a_load_job_writing_more_than_4000_partitions_fails_and_writes_nothing(
    bq_emulator, dataset
) -> None:
    client = bq_emulator.client
    table = _table(client, dataset)
    client.query_and_wait(_insert(3, table))
    rows = [
        {"i": i, "created_on": f"{DAY0 + dt.timedelta(days=i)}T12:00:00Z", "v": "x"}
        for i in range(MAX_PARTITIONS + 1)
    ]
    name = f"{dataset}/many-days.json.gz"
    path = bq_emulator.gcs_root / "limits-test" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in rows).encode()))
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
    )
    job = client.load_table_from_uri(f"gs://limits-test/{name}", table, job_config=config)
    with pytest.raises(BadRequest, match="Too many partitions produced by load job"):
        job.result()
    assert _rows(client, table) == 3  # not truncated, nothing appended


def test_a_query_longer_than_1024k_characters_is_refused(bq_emulator) -> None:
    client = bq_emulator.client
    filler = "-- " + "x" * 1000 + "\n"
    long = filler * (MAX_QUERY_CHARS // len(filler) + 1) + "SELECT 1 AS one"
    assert len(long) > MAX_QUERY_CHARS
    with pytest.raises(BadRequest, match=r"maximum standard SQL query length is 1024\.00K"):
        client.query_and_wait(long)
    with pytest.raises(BadRequest, match="maximum standard SQL query length"):
        client.query(long).result()
    short = filler * 10 + "SELECT 1 AS one"
    assert [r["one"] for r in client.query_and_wait(short)] == [1]
