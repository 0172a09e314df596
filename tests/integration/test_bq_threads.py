"""The BigQuery emulator answers reads that arrive at once, each with its own rows.

bqemulator serves ``tabledata.list`` (the client's ``list_rows``) and ``tables.get`` on a
thread pool, beside the query jobs of its event loop, all on one DuckDB connection; a
statement on one thread closed another's result before it was fetched, and the client
retried the emulator's 500 for minutes (stkpi_tools.localstack.bq_threads). Several
tenants' steps reading the tenant registry at once hung runs that way. The cloud has no
such race, so the local stack must not invent one.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from google.api_core.retry import Retry
from google.cloud import bigquery

pytestmark = pytest.mark.integration

# Fail fast: a read the emulator answers 500 is a failure here, not something to retry.
NO_RETRY = Retry(timeout=0.0)
TABLES = 4
READS_PER_TABLE = 12


def test_concurrent_reads_each_get_their_own_rows(bq_emulator, dataset: str) -> None:
    client = bq_emulator.client
    # Table i holds 10*(i+1) rows numbered 0..: a read that got another read's result,
    # or none, shows as a wrong count or wrong numbers.
    for i in range(TABLES):
        client.query_and_wait(
            f"CREATE TABLE `{dataset}.t{i}` AS SELECT n, {i} AS tab "
            f"FROM UNNEST(GENERATE_ARRAY(0, {10 * (i + 1) - 1})) AS n"
        )

    def list_rows(i: int) -> tuple[int, list[tuple[int, int]]]:
        table = client.get_table(f"{dataset}.t{i}", retry=NO_RETRY)
        rows = client.list_rows(table, page_size=7, retry=NO_RETRY)
        return i, sorted((r["tab"], r["n"]) for r in rows)

    def query(i: int) -> tuple[int, list[tuple[int, int]]]:
        sql = f"SELECT tab, n FROM `{dataset}.t{i}`"
        return i, sorted((r["tab"], r["n"]) for r in client.query_and_wait(sql))

    work = [(f, i) for i in range(TABLES) for f in (list_rows, query)] * READS_PER_TABLE
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda job: job[0](job[1]), work))
    assert len(results) == len(work)
    for i, rows in results:
        assert rows == [(i, n) for n in range(10 * (i + 1))], f"table t{i}"


def test_a_read_on_another_thread_sees_committed_rows_and_utc(bq_emulator, dataset) -> None:
    client: bigquery.Client = bq_emulator.client
    client.query_and_wait(
        f"CREATE TABLE `{dataset}.ts` AS SELECT TIMESTAMP '2026-12-07 16:00:00+00' AS at"
    )
    table = client.get_table(f"{dataset}.ts")
    with ThreadPoolExecutor(max_workers=2) as pool:
        got = pool.submit(lambda: [r["at"] for r in client.list_rows(table)]).result()
    assert [a.isoformat() for a in got] == ["2026-12-07T16:00:00+00:00"]
