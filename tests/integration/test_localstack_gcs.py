"""fake-gcs-server through the official client: preconditions, layout, load from gs://."""

from __future__ import annotations

import gzip
import json
import uuid

import pytest
from google.api_core.exceptions import PreconditionFailed
from google.cloud import bigquery

pytestmark = pytest.mark.integration


@pytest.fixture
def bucket(gcs_emulator):
    name = f"bk-{uuid.uuid4().hex[:8]}"
    return gcs_emulator.client.create_bucket(name)


def test_create_with_if_generation_match_zero_fails_the_second_time(bucket) -> None:
    bucket.blob("claims/run-1").upload_from_string(b"me", if_generation_match=0)
    with pytest.raises(PreconditionFailed):
        bucket.blob("claims/run-1").upload_from_string(b"you", if_generation_match=0)
    assert bucket.blob("claims/run-1").download_as_bytes() == b"me"


def test_objects_list_by_prefix_and_round_trip(bucket) -> None:
    for i in (1, 2):
        name = f"landing/jobs/run=r1/window=w1/page-{i:05d}.json.gz"
        bucket.blob(name).upload_from_string(gzip.compress(b'{"id": 1}\n'))
    bucket.blob("landing/jobs/run=r1/window=w2/page-00001.json.gz").upload_from_string(b"x")
    names = [
        b.name for b in bucket.client.list_blobs(bucket, prefix="landing/jobs/run=r1/window=w1/")
    ]
    assert names == [
        "landing/jobs/run=r1/window=w1/page-00001.json.gz",
        "landing/jobs/run=r1/window=w1/page-00002.json.gz",
    ]
    data = bucket.blob(names[0]).download_as_bytes()
    assert gzip.decompress(data) == b'{"id": 1}\n'


def test_bigquery_loads_what_gcs_stored(bq_emulator, gcs_emulator, bucket) -> None:
    """The emulators share one filesystem root: a page uploaded via GCS is loadable."""
    prefix = "landing/jobs/run=r2/window=w1"
    for page in (1, 2):
        rows = [{"id": page * 100 + i} for i in range(10)]
        body = gzip.compress("\n".join(json.dumps(r) for r in rows).encode())
        bucket.blob(f"{prefix}/page-{page:05d}.json.gz").upload_from_string(body)
    client = bq_emulator.client
    ds = f"{bq_emulator.project}.gcs_{uuid.uuid4().hex[:6]}"
    client.create_dataset(ds)
    uris = [f"gs://{bucket.name}/{prefix}/page-{p:05d}.json.gz" for p in (1, 2)]
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        schema=[bigquery.SchemaField("id", "INT64")],
    )
    client.load_table_from_uri(uris, f"{ds}.t", job_config=config).result()
    assert client.get_table(f"{ds}.t").num_rows == 20
    wildcard = f"gs://{bucket.name}/{prefix}/page-*.json.gz"
    client.load_table_from_uri(wildcard, f"{ds}.w", job_config=config).result()
    assert client.get_table(f"{ds}.w").num_rows == 20
