"""The IAM gate in front of the emulators, driven by the official clients.

Two principals: a writer (objectUser on one bucket, dataEditor on one dataset, jobUser,
publisher on one topic, subscriber on one subscription) and a viewer (viewer roles only).
Allowed calls work end to end through the gate; refused ones raise what Google's refusals
raise (``Forbidden`` over REST, ``PermissionDenied`` over gRPC) naming the permission, and
the gate's health endpoint lists them.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.api_core.client_options import ClientOptions
from google.api_core.exceptions import Forbidden, PermissionDenied
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, pubsub_v1, storage

from stkpi_tools.localstack.iam import (
    STORAGE_TELEMETRY_PROBE,
    Grant,
    Policy,
    gate_ledger,
    gate_ports,
    load_roles,
    principal_env,
    start_gate,
)
from stkpi_tools.localstack.process import Service, pgid_alive
from stkpi_tools.localstack.provision import patched_environ

pytestmark = pytest.mark.integration

WRITER = "serviceAccount:writer@stkpi-local.iam.gserviceaccount.com"
VIEWER = "serviceAccount:viewer@stkpi-local.iam.gserviceaccount.com"


@dataclass
class Principal:
    member: str
    env: dict[str, str]
    storage: storage.Client
    bigquery: bigquery.Client
    publisher: pubsub_v1.PublisherClient
    subscriber: pubsub_v1.SubscriberClient


@dataclass
class World:
    project: str
    bucket: str  # granted to both (writer: objectUser, viewer: objectViewer)
    other_bucket: str  # granted to nobody
    dataset: str  # writer: dataEditor, viewer: dataViewer
    other_dataset: str  # granted to nobody
    topic: str  # writer: publisher
    other_topic: str
    subscription: str  # writer: subscriber (on topic)
    gate: Service
    health_port: int
    writer: Principal
    viewer: Principal

    def path(self, kind: str, name: str) -> str:
        return f"projects/{self.project}/{kind}/{name}"


def _principal(member: str, ports: dict[str, int], project: str) -> Principal:
    env = principal_env(ports)
    anonymous = AnonymousCredentials()
    with patched_environ(env):  # the Pub/Sub clients read PUBSUB_EMULATOR_HOST when built
        publisher = pubsub_v1.PublisherClient()
        subscriber = pubsub_v1.SubscriberClient()
    return Principal(
        member=member,
        env=env,
        storage=storage.Client(
            project=project,
            credentials=anonymous,
            client_options=ClientOptions(api_endpoint=env["STORAGE_EMULATOR_HOST"]),
        ),
        bigquery=bigquery.Client(
            project=project,
            credentials=anonymous,
            client_options=ClientOptions(api_endpoint=env["BIGQUERY_EMULATOR_HOST"]),
        ),
        publisher=publisher,
        subscriber=subscriber,
    )


def _config(project: str, names: dict[str, str], emulators: dict[str, Service]) -> dict:
    def on(kind: str, name: str) -> str:
        return f"projects/{project}/{kind}/{name}"

    grants = [
        Grant(WRITER, "roles/storage.objectUser", on("buckets", names["bucket"])),
        Grant(WRITER, "roles/bigquery.dataEditor", on("datasets", names["dataset"])),
        Grant(WRITER, "roles/bigquery.jobUser", f"projects/{project}"),
        Grant(WRITER, "roles/pubsub.publisher", on("topics", names["topic"])),
        Grant(WRITER, "roles/pubsub.subscriber", on("subscriptions", names["subscription"])),
        Grant(VIEWER, "roles/storage.objectViewer", on("buckets", names["bucket"])),
        Grant(VIEWER, "roles/bigquery.dataViewer", on("datasets", names["dataset"])),
        Grant(VIEWER, "roles/pubsub.viewer", f"projects/{project}"),
    ]
    return {
        "policy": Policy(grants, load_roles()).to_json(),
        "backends": {
            "storage": emulators["gcs"].env()["STORAGE_EMULATOR_HOST"],
            "bigquery": emulators["bigquery"].env()["BIGQUERY_EMULATOR_HOST"],
            "pubsub": emulators["pubsub"].env()["PUBSUB_EMULATOR_HOST"],
        },
        "project": project,
    }


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, gcs_emulator, bq_emulator, pubsub_emulator
) -> Iterator[World]:
    project = bq_emulator.project
    tag = uuid.uuid4().hex[:8]
    names = {
        "bucket": f"iam-{tag}",
        "other_bucket": f"iam-other-{tag}",
        "dataset": f"iam_{tag}",
        "other_dataset": f"iam_other_{tag}",
        "topic": f"iam-topic-{tag}",
        "other_topic": f"iam-other-topic-{tag}",
        "subscription": f"iam-sub-{tag}",
    }
    # what terraform apply creates, as the project owner (straight to the emulators)
    gcs_emulator.client.create_bucket(names["bucket"])
    gcs_emulator.client.create_bucket(names["other_bucket"])
    bq_emulator.client.create_dataset(f"{project}.{names['dataset']}")
    bq_emulator.client.create_dataset(f"{project}.{names['other_dataset']}")
    with patched_environ(
        pubsub_emulator.service.env()
    ):  # the emulator itself, whatever os.environ says
        admin_pub, admin_sub = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = admin_pub.topic_path(project, names["topic"])
    admin_pub.create_topic(name=topic)
    admin_pub.create_topic(name=admin_pub.topic_path(project, names["other_topic"]))
    admin_sub.create_subscription(
        name=admin_sub.subscription_path(project, names["subscription"]), topic=topic
    )
    emulators = {
        "gcs": gcs_emulator.service,
        "bigquery": bq_emulator.service,
        "pubsub": pubsub_emulator.service,
    }
    config = _config(project, names, emulators)
    gate = start_gate(tmp_path_factory.mktemp("iam"), config, (WRITER, VIEWER))
    writer = viewer = None
    try:
        writer = _principal(WRITER, gate_ports(gate, WRITER), project)
        viewer = _principal(VIEWER, gate_ports(gate, VIEWER), project)
        with patched_environ({STORAGE_TELEMETRY_PROBE: "true"}):  # as principal_env sets it
            yield World(
                project=project,
                gate=gate,
                health_port=gate.port,
                writer=writer,
                viewer=viewer,
                **names,
            )
    finally:
        for who in (writer, viewer):
            if who is not None:
                who.subscriber.close()
                who.storage.close()
                who.bigquery.close()
        gate.stop()
        admin_sub.close()
        bq_emulator.client.delete_dataset(
            f"{project}.{names['dataset']}", delete_contents=True, not_found_ok=True
        )
    assert not pgid_alive(gate.pid), "the gate outlived its fixture"
    assert "iam_gate_stopped" in gate.log_tail(5), "the gate did not stop cleanly on SIGTERM"


def _ndjson_gz(rows: list[dict]) -> bytes:
    return gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())


def _denied(world: World) -> list[dict]:
    return gate_ledger(world.health_port)["denied"]


# ---- Cloud Storage ----------------------------------------------------------------------------


def test_storage_writer_writes_and_reads_and_viewer_only_reads(world: World) -> None:
    bucket = world.writer.storage.bucket(world.bucket)
    page = _ndjson_gz([{"id": i, "v": f"v{i}"} for i in range(100)])
    bucket.blob("landing/page-00001.json.gz").upload_from_string(
        page, content_type="application/gzip"
    )
    bucket.blob("landing/page-00001.json.gz").upload_from_string(page)  # overwrite: delete too
    big = os.urandom(9 * 1024 * 1024)  # above the client's 8 MB: a resumable upload
    bucket.blob("landing/big.bin").upload_from_string(big)

    # listing hands out mediaLinks; they lead back through the gate (as the viewer too)
    viewer_bucket = world.viewer.storage.bucket(world.bucket)
    listed = {b.name: b for b in viewer_bucket.list_blobs(prefix="landing/")}
    assert set(listed) == {"landing/page-00001.json.gz", "landing/big.bin"}
    assert listed["landing/big.bin"].download_as_bytes() == big
    assert (
        viewer_bucket.blob("landing/page-00001.json.gz").download_as_bytes(raw_download=True)
        == page
    )

    with pytest.raises(Forbidden, match=r"storage\.objects\.create"):
        viewer_bucket.blob("landing/x.json").upload_from_string(b"{}")
    with pytest.raises(Forbidden, match=r"storage\.objects\.delete"):
        viewer_bucket.blob("landing/page-00001.json.gz").delete()
    with pytest.raises(Forbidden, match=r"storage\.objects\.create"):
        viewer_bucket.blob("landing/big2.bin").upload_from_string(big)  # resumable start
    with pytest.raises(Forbidden, match=r"storage\.buckets\.get"):
        world.writer.storage.get_bucket(world.bucket)  # objectUser has no buckets.get
    with pytest.raises(Forbidden, match=r"storage\.objects\.list"):
        list(world.writer.storage.bucket(world.other_bucket).list_blobs())

    claim = bucket.blob("control/runs/r1/rebuild.claim")
    claim.upload_from_string(b"me", if_generation_match=0)
    assert claim.exists()
    claim.delete()


# ---- BigQuery ---------------------------------------------------------------------------------


def test_bigquery_writer_loads_and_merges_in_its_dataset_only(world: World) -> None:
    client, p, d = world.writer.bigquery, world.project, world.dataset
    world.writer.storage.bucket(world.bucket).blob("loads/p1.json.gz").upload_from_string(
        _ndjson_gz([{"id": i, "v": f"v{i}"} for i in range(50)])
    )
    client.query(f"CREATE TABLE IF NOT EXISTS `{p}.{d}.raw` (id INT64, v STRING)").result()
    schema = [bigquery.SchemaField("id", "INT64"), bigquery.SchemaField("v", "STRING")]
    load = client.load_table_from_uri(
        f"gs://{world.bucket}/loads/p1.json.gz",
        f"{p}.{d}.stage",
        job_id=f"iam_load_{uuid.uuid4().hex[:8]}",
        job_config=bigquery.LoadJobConfig(
            source_format="NEWLINE_DELIMITED_JSON",
            schema=schema,
            write_disposition="WRITE_TRUNCATE",
        ),
    )
    load.result()
    assert load.output_rows == 50
    assert client.get_job(load.job_id).state == "DONE"  # own job: jobs.create suffices
    merge = client.query(
        f"MERGE `{p}.{d}.raw` T USING (WITH s AS (SELECT * FROM `{p}.{d}.stage`) SELECT * FROM s) S "
        "ON T.id = S.id WHEN MATCHED THEN UPDATE SET v = S.v "
        "WHEN NOT MATCHED THEN INSERT (id, v) VALUES (S.id, S.v)"
    )
    merge.result()
    assert merge.num_dml_affected_rows == 50
    rows = list(client.query(f"SELECT COUNT(*) AS n FROM `{p}.{d}.raw`").result())
    assert rows[0]["n"] == 50

    with pytest.raises(Forbidden, match=r"bigquery\.datasets\.create"):
        client.create_dataset(f"{p}.{d}", exists_ok=True)  # the insert is sent even if it exists
    with pytest.raises(
        Forbidden,
        match=rf"bigquery\.tables\.create access to projects/{p}/datasets/{world.other_dataset}",
    ):
        client.query(f"CREATE TABLE IF NOT EXISTS `{p}.{world.other_dataset}.x` (a INT64)")
    with pytest.raises(Forbidden, match=r"storage\.objects\.get"):
        client.load_table_from_uri(
            f"gs://{world.other_bucket}/x.json.gz",
            f"{p}.{d}.stage",
            job_config=bigquery.LoadJobConfig(
                source_format="NEWLINE_DELIMITED_JSON", schema=schema
            ),
        )

    viewer = world.viewer.bigquery
    assert len(list(viewer.list_rows(f"{p}.{d}.raw", max_results=5))) == 5  # tabledata.list
    with pytest.raises(Forbidden, match=r"bigquery\.jobs\.create"):
        viewer.query(f"SELECT COUNT(*) FROM `{p}.{d}.raw`")
    with pytest.raises(Forbidden, match=r"bigquery\.tables\.updateData"):
        viewer.insert_rows_json(f"{p}.{d}.raw", [{"id": -1, "v": "x"}])


# ---- Pub/Sub ----------------------------------------------------------------------------------


def test_pubsub_writer_publishes_and_pulls_viewer_cannot(world: World) -> None:
    w, v = world.writer, world.viewer
    topic, sub = world.path("topics", world.topic), world.path("subscriptions", world.subscription)
    w.publisher.publish(topic, b"unary", kind="pull").result(timeout=10)
    resp = w.subscriber.pull(subscription=sub, max_messages=5, timeout=10)
    assert [m.message.data for m in resp.received_messages] == [b"unary"]
    w.subscriber.acknowledge(subscription=sub, ack_ids=[m.ack_id for m in resp.received_messages])

    got, arrived = [], threading.Event()

    def on_message(message) -> None:
        got.append(message.data)
        message.ack()
        arrived.set()

    future = w.subscriber.subscribe(sub, on_message)  # StreamingPull (stream-stream)
    try:
        w.publisher.publish(topic, b"streamed").result(timeout=10)
        assert arrived.wait(15), "StreamingPull through the gate delivered nothing"
    finally:
        future.cancel()
        future.result(timeout=10)
    assert got == [b"streamed"]

    with pytest.raises(PermissionDenied, match=r"pubsub\.topics\.publish"):
        w.publisher.publish(world.path("topics", world.other_topic), b"x").result(timeout=10)
    with pytest.raises(PermissionDenied, match=r"pubsub\.topics\.get"):
        w.publisher.get_topic(topic=topic)
    assert v.publisher.get_topic(topic=topic).name == topic  # pubsub.viewer on the project
    with pytest.raises(
        PermissionDenied, match=rf"{VIEWER} does not have pubsub\.subscriptions\.consume"
    ):
        v.subscriber.pull(subscription=sub, max_messages=1, timeout=10)


# ---- the ledger -------------------------------------------------------------------------------


def test_health_endpoint_lists_the_refusals(world: World) -> None:
    with pytest.raises(Forbidden):
        world.viewer.storage.bucket(world.bucket).blob("ledger.txt").upload_from_string(b"x")
    ledger = gate_ledger(world.health_port)
    assert ledger["allowed"] > 0
    last = ledger["denied"][-1]
    assert last["member"] == VIEWER
    assert last["permission"] == "storage.objects.create"
    assert last["resource"] == world.path("buckets", world.bucket) + "/objects/ledger.txt"
    assert last["method"] == "POST" and last["path"].startswith("/upload/storage/v1/b/")
    assert {(d["member"], d["permission"]) for d in _denied(world)} >= {
        (VIEWER, "storage.objects.create")
    }
    log = Path(world.gate.log_path).read_text().splitlines()
    assert any(
        json.loads(line).get("event") == "iam_denied" for line in log if line.startswith("{")
    )


def test_every_principal_port_judges_its_own_member(world: World) -> None:
    denied_before = len(_denied(world))
    with pytest.raises(Forbidden, match=WRITER.replace(".", r"\.")):
        world.writer.bigquery.create_dataset(f"{world.project}.{world.dataset}", exists_ok=True)
    new = _denied(world)[denied_before:]
    assert [(d["member"], d["service"], d["permission"]) for d in new] == [
        (WRITER, "bigquery", "bigquery.datasets.create")
    ]
