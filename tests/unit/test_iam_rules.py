"""Request -> IAM checks, for the calls the official clients make (no services)."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from google.cloud.bigquery.job import CopyJob, ExtractJob, LoadJob, QueryJob
from google.pubsub_v1 import types

from stkpi import raw_ddl
from stkpi.marts import registry_sql
from stkpi.registry import ENTITIES, Entity
from stkpi.sqlfiles import statements
from stkpi_tools.localstack.iam import NoRule
from stkpi_tools.localstack.iam import rules_bigquery as bq
from stkpi_tools.localstack.iam import rules_bigquery_sql as bqsql
from stkpi_tools.localstack.iam import rules_pubsub as ps
from stkpi_tools.localstack.iam import rules_storage as gcs

P = "proj"
SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def obj(bucket: str, name: str) -> str:
    return f"projects/{P}/buckets/{bucket}/objects/{name}"


def tbl(d: str, t: str, p: str = P) -> str:
    return f"projects/{p}/datasets/{d}/tables/{t}"


def ds(d: str, p: str = P) -> str:
    return f"projects/{p}/datasets/{d}"


# ---- Cloud Storage ----------------------------------------------------------------------------


def storage(method, path, query=None, body=None, exists=None):
    return gcs.checks(method, path, query or {}, project_of=lambda b: P, body=body, exists=exists)


def test_multipart_upload_creates_and_needs_the_name_from_its_metadata() -> None:
    q = {"uploadType": "multipart"}
    assert gcs.body_needed("POST", "/upload/storage/v1/b/bk/o", q) == "multipart"
    checks = storage(
        "POST", "/upload/storage/v1/b/bk/o", q, {"name": "landing/a.json.gz"}, lambda b, n: False
    )
    assert checks == [("storage.objects.create", obj("bk", "landing/a.json.gz"))]


def test_overwrite_needs_delete_unless_if_generation_match_zero() -> None:
    path, meta = "/upload/storage/v1/b/bk/o", {"name": "m.json"}
    exists = lambda b, n: (b, n) == ("bk", "m.json")  # noqa: E731
    create, delete = (
        ("storage.objects.create", obj("bk", "m.json")),
        ("storage.objects.delete", obj("bk", "m.json")),
    )
    assert storage("POST", path, {"uploadType": "multipart"}, meta, exists) == [create, delete]
    claim = {"uploadType": "multipart", "ifGenerationMatch": "0"}
    assert storage("POST", path, claim, meta, exists) == [create]  # 412 if it exists
    lease = {"uploadType": "multipart", "ifGenerationMatch": "17"}
    assert storage("POST", path, lease, meta, lambda b, n: False) == [create, delete]


def test_media_and_resumable_uploads() -> None:
    media = {"uploadType": "media", "name": "a/b"}
    assert gcs.body_needed("POST", "/upload/storage/v1/b/bk/o", media) is None
    assert storage("POST", "/upload/storage/v1/b/bk/o", media) == [
        ("storage.objects.create", obj("bk", "a/b"))
    ]
    start = {"uploadType": "resumable"}
    assert gcs.body_needed("POST", "/upload/storage/v1/b/bk/o", start) == "json"
    assert storage("POST", "/upload/storage/v1/b/bk/o", start, {"name": "big.bin"}) == [
        ("storage.objects.create", obj("bk", "big.bin"))
    ]
    chunk = {"uploadType": "resumable", "name": "big.bin", "upload_id": "abc"}
    assert storage("PUT", "/upload/storage/v1/b/bk/o", chunk) == []


def test_reads_lists_deletes_and_updates() -> None:
    name = "control/runs/r1/rebuild.claim"
    enc = "control%2Fruns%2Fr1%2Frebuild.claim"
    get = ("storage.objects.get", obj("bk", name))
    assert storage("GET", f"/download/storage/v1/b/bk/o/{enc}", {"alt": "media"}) == [get]
    assert storage("GET", f"/storage/v1/b/bk/o/{enc}", {"alt": "media"}) == [get]
    assert storage("GET", f"/storage/v1/b/bk/o/{enc}", {"fields": "name"}) == [get]
    assert storage("GET", "/storage/v1/b/bk/o", {"prefix": "landing/"}) == [
        ("storage.objects.list", f"projects/{P}/buckets/bk")
    ]
    assert storage("DELETE", f"/storage/v1/b/bk/o/{enc}", {"ifGenerationMatch": "3"}) == [
        ("storage.objects.delete", obj("bk", name))
    ]
    assert storage("PATCH", f"/storage/v1/b/bk/o/{enc}") == [
        ("storage.objects.update", obj("bk", name))
    ]


def test_compose_and_rewrite_create_the_destination_and_read_the_sources() -> None:
    path = "/storage/v1/b/bk/o/all.json/compose"
    assert gcs.body_needed("POST", path, {}) == "json"
    body = {"sourceObjects": [{"name": "a"}, {"name": "b"}]}
    assert storage("POST", path, {}, body, lambda b, n: True) == [
        ("storage.objects.create", obj("bk", "all.json")),
        ("storage.objects.delete", obj("bk", "all.json")),
        ("storage.objects.get", obj("bk", "a")),
        ("storage.objects.get", obj("bk", "b")),
    ]
    assert storage("POST", "/storage/v1/b/bk/o/x%2Fa/rewriteTo/b/bk2/o/y%2Fb", {}) == [
        ("storage.objects.get", obj("bk", "x/a")),
        ("storage.objects.create", obj("bk2", "y/b")),
    ]


def test_bucket_calls() -> None:
    bucket = f"projects/{P}/buckets/bk"
    assert storage("GET", "/storage/v1/b/bk", {"projection": "noAcl"}) == [
        ("storage.buckets.get", bucket)
    ]
    assert storage("POST", "/storage/v1/b", {"project": P}) == [
        ("storage.buckets.create", f"projects/{P}")
    ]
    assert storage("GET", "/storage/v1/b", {"project": P}) == [
        ("storage.buckets.list", f"projects/{P}")
    ]
    assert storage("DELETE", "/storage/v1/b/bk") == [("storage.buckets.delete", bucket)]
    assert storage("GET", "/storage/v1/b/bk/iam/testPermissions") == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/storage/v1/b/bk/acl"),
        ("GET", "/storage/v1/b/bk/o/a%2Fb/acl"),
        ("POST", "/batch/storage/v1"),
        ("GET", "/bk/object.txt"),
        ("POST", "/storage/v1/b/bk/notificationConfigs"),
    ],
)
def test_storage_calls_without_a_rule_are_refused(method: str, path: str) -> None:
    with pytest.raises(NoRule, match=f"iam gate: no rule for {method} {re.escape(path)}"):
        storage(method, path)


# ---- BigQuery: REST routes --------------------------------------------------------------------


def client() -> bigquery.Client:
    return bigquery.Client(project=P, credentials=AnonymousCredentials())


def rest(method, path, query=None, body=None, **kw):
    return bq.checks(method, f"/bigquery/v2/projects/{P}/{path}", query or {}, body=body, **kw)


def test_create_dataset_exists_ok_needs_datasets_create_on_the_project() -> None:
    # client.create_dataset(ds, exists_ok=True) POSTs the insert and only then reads a 409
    assert rest("POST", "datasets") == [("bigquery.datasets.create", f"projects/{P}")]
    assert rest("GET", "datasets/raw") == [("bigquery.datasets.get", ds("raw"))]
    assert rest("DELETE", "datasets/raw", {"deleteContents": "true"}) == [
        ("bigquery.datasets.delete", ds("raw")),
        ("bigquery.tables.delete", ds("raw")),
    ]
    assert rest("GET", "datasets") == []  # filtered by Google, never a 403


def test_table_and_tabledata_routes() -> None:
    assert rest("POST", "datasets/st_stage/tables") == [("bigquery.tables.create", ds("st_stage"))]
    assert rest("GET", "datasets/raw/tables") == [("bigquery.tables.list", ds("raw"))]
    assert rest("GET", "datasets/raw/tables/jobs") == [("bigquery.tables.get", tbl("raw", "jobs"))]
    assert rest("DELETE", "datasets/stage/tables/s1") == [
        ("bigquery.tables.delete", tbl("stage", "s1"))
    ]
    assert rest("PATCH", "datasets/raw/tables/jobs") == [
        ("bigquery.tables.update", tbl("raw", "jobs"))
    ]
    assert rest("POST", "datasets/ops/tables/run_events/insertAll") == [
        ("bigquery.tables.updateData", tbl("ops", "run_events"))
    ]
    assert rest("GET", "datasets/raw/tables/jobs%2420240101/data") == [
        ("bigquery.tables.getData", tbl("raw", "jobs"))
    ]


def test_own_jobs_need_jobs_create_and_others_jobs_get() -> None:
    mine = rest("GET", "jobs/j1", own_job=lambda p, j: True)
    theirs = rest("GET", "jobs/j1", own_job=lambda p, j: False)
    assert mine == [("bigquery.jobs.create", f"projects/{P}")]
    assert theirs == [("bigquery.jobs.get", f"projects/{P}")]
    assert rest("GET", "queries/j1", own_job=lambda p, j: True) == mine
    assert rest("POST", "jobs/j1/cancel", own_job=lambda p, j: False) == [
        ("bigquery.jobs.update", f"projects/{P}")
    ]
    assert rest("GET", "jobs") == [("bigquery.jobs.list", f"projects/{P}")]
    assert rest("GET", "jobs", {"allUsers": "true"}) == [("bigquery.jobs.listAll", f"projects/{P}")]


def test_bigquery_calls_without_a_rule_are_refused() -> None:
    with pytest.raises(
        NoRule, match="no rule for GET /bigquery/v2/projects/proj/datasets/d/routines"
    ):
        rest("GET", "datasets/d/routines")
    with pytest.raises(NoRule, match="no rule for a job of kind"):
        rest("POST", "jobs", body={"configuration": {}})
    with pytest.raises(NoRule, match="legacy SQL"):
        rest("POST", "queries", body={"query": "SELECT 1", "useLegacySql": True})


# ---- BigQuery: jobs, with bodies as the client builds them -----------------------------------


def job(body, **kw):
    assert bq.body_needed("POST", f"/bigquery/v2/projects/{P}/jobs", {}) == "json"
    return rest("POST", "jobs", body=body, **kw)


def query_job(sql: str, **config) -> dict:
    return QueryJob("q1", sql, client(), bigquery.QueryJobConfig(**config)).to_api_repr()


def test_create_table_if_not_exists_needs_tables_create_even_when_it_exists() -> None:
    body = query_job(f"CREATE TABLE IF NOT EXISTS `{P}.raw.x` (id INT64)")
    assert job(body, table_exists=lambda *a: True) == [
        ("bigquery.jobs.create", f"projects/{P}"),
        ("bigquery.tables.create", ds("raw")),
    ]
    unqualified = query_job("CREATE TABLE IF NOT EXISTS raw.x (id INT64)")
    assert ("bigquery.tables.create", ds("raw")) in job(unqualified)


def test_merge_needs_update_data_on_the_target_and_get_data_on_the_source() -> None:
    sql = (
        f"MERGE `{P}.st_raw.jobs` AS T USING (SELECT * FROM `{P}.st_stage.jobs__r1__w1`) AS S "
        "ON T.id = S.id WHEN MATCHED THEN UPDATE SET v = S.v "
        "WHEN NOT MATCHED THEN INSERT (id, v) VALUES (S.id, S.v)"
    )
    checks = job(query_job(sql))
    assert ("bigquery.tables.updateData", tbl("st_raw", "jobs")) in checks
    assert ("bigquery.tables.getData", tbl("st_stage", "jobs__r1__w1")) in checks
    assert ("bigquery.tables.updateData", tbl("st_stage", "jobs__r1__w1")) not in checks


def test_a_cte_name_is_not_a_table_and_unqualified_names_use_the_default_dataset() -> None:
    sql = (
        "WITH ranked AS (SELECT * FROM window_events) SELECT * FROM ranked JOIN runs USING (run_id)"
    )
    checks = job(query_job(sql, default_dataset=f"{P}.st_ops"))
    assert sorted(checks) == [
        ("bigquery.jobs.create", f"projects/{P}"),
        ("bigquery.tables.getData", tbl("st_ops", "runs")),
        ("bigquery.tables.getData", tbl("st_ops", "window_events")),
    ]


def test_statement_kinds() -> None:
    def data(sql: str, default: tuple[str, str] | None = None) -> list:
        return bqsql.sql_checks(sql, P, default)

    assert data("INSERT INTO ops.t (a) SELECT a FROM raw.s") == [
        ("bigquery.tables.updateData", tbl("ops", "t")),
        ("bigquery.tables.getData", tbl("raw", "s")),
    ]
    assert data("DELETE FROM `proj.ops.t` WHERE a IN (SELECT a FROM raw.s)") == [
        ("bigquery.tables.updateData", tbl("ops", "t")),
        ("bigquery.tables.getData", tbl("ops", "t")),
        ("bigquery.tables.getData", tbl("raw", "s")),
    ]
    assert data("TRUNCATE TABLE ops.t") == [("bigquery.tables.updateData", tbl("ops", "t"))]
    assert data("CREATE OR REPLACE TABLE `other.dim.d` AS SELECT * FROM raw.j") == [
        ("bigquery.tables.create", ds("dim", "other")),
        ("bigquery.tables.update", tbl("dim", "d", "other")),
        ("bigquery.tables.updateData", tbl("dim", "d", "other")),
        ("bigquery.tables.getData", tbl("raw", "j")),
    ]
    assert data("CREATE OR REPLACE VIEW mart.v AS SELECT * FROM dim.d") == [
        ("bigquery.tables.create", ds("mart")),
        ("bigquery.tables.update", tbl("mart", "v")),
        ("bigquery.tables.getData", tbl("dim", "d")),
    ]
    assert data("CREATE SCHEMA IF NOT EXISTS `proj.newds`") == [
        ("bigquery.datasets.create", f"projects/{P}")
    ]
    assert data("DROP TABLE IF EXISTS stage.s") == [("bigquery.tables.delete", tbl("stage", "s"))]
    assert data("ALTER TABLE raw.j ADD COLUMN c STRING") == [
        ("bigquery.tables.get", tbl("raw", "j")),
        ("bigquery.tables.update", tbl("raw", "j")),
    ]
    assert data(
        "CREATE TEMP TABLE tmp AS SELECT * FROM raw.j; SELECT * FROM tmp", ("proj", "d")
    ) == [("bigquery.tables.getData", tbl("raw", "j"))]
    assert data("SELECT * FROM raw.events_* WHERE _TABLE_SUFFIX > '1'") == [
        ("bigquery.tables.getData", tbl("raw", "events_*"))
    ]
    assert data("SELECT 1; SELECT * FROM a.t; UPDATE b.u SET x = 1 WHERE TRUE") == [
        ("bigquery.tables.getData", tbl("a", "t")),
        ("bigquery.tables.updateData", tbl("b", "u")),
        ("bigquery.tables.getData", tbl("b", "u")),
    ]
    assert data("SELECT * FROM UNNEST([1, 2]) AS x") == []


def test_information_schema_needs_list_and_get_or_job_listing() -> None:
    assert bqsql.sql_checks(f"SELECT * FROM `{P}.raw.INFORMATION_SCHEMA.TABLES`", P) == [
        ("bigquery.tables.list", ds("raw")),
        ("bigquery.tables.get", ds("raw")),
    ]
    assert bqsql.sql_checks("SELECT * FROM `region-us`.INFORMATION_SCHEMA.JOBS_BY_USER", P) == [
        ("bigquery.jobs.list", f"projects/{P}")
    ]
    assert bqsql.sql_checks("SELECT * FROM `region-us`.INFORMATION_SCHEMA.JOBS", P) == [
        ("bigquery.jobs.listAll", f"projects/{P}")
    ]
    assert bqsql.sql_checks("SELECT * FROM raw.__TABLES__", P) == [
        ("bigquery.tables.list", ds("raw"))
    ]


def test_sql_that_cannot_be_judged_is_refused() -> None:
    with pytest.raises(NoRule, match="cannot judge"):
        bqsql.sql_checks("BEGIN SELECT 1; END", P)
    with pytest.raises(NoRule, match="cannot judge"):
        bqsql.sql_checks("SELECT FROM WHERE (", P)


def test_query_destination_table_is_written_and_created_if_needed() -> None:
    body = query_job(
        "SELECT 1 AS a",
        destination=f"{P}.mart.out",
        write_disposition="WRITE_TRUNCATE",
    )
    assert job(body, table_exists=lambda *a: False)[1:] == [
        ("bigquery.tables.create", ds("mart")),
        ("bigquery.tables.updateData", tbl("mart", "out")),
    ]
    assert job(body, table_exists=lambda *a: True)[1:] == [
        ("bigquery.tables.updateData", tbl("mart", "out"))
    ]


def test_load_job_reads_its_gs_sources_as_the_caller() -> None:
    config = bigquery.LoadJobConfig(
        source_format="NEWLINE_DELIMITED_JSON", write_disposition="WRITE_TRUNCATE"
    )
    dest = bigquery.TableReference.from_string(f"{P}.st_stage.jobs__r1__w1")
    uris = ["gs://landing/landing/jobs/run=r1/window=w1/page-00001.json.gz", "gs://landing/x/*"]
    body = LoadJob("l1", uris, dest, client(), config).to_api_repr()
    checks = job(body, table_exists=lambda *a: True, bucket_project=lambda b: "bucketproj")
    assert checks == [
        ("bigquery.jobs.create", f"projects/{P}"),
        ("bigquery.tables.updateData", tbl("st_stage", "jobs__r1__w1")),
        (
            "storage.objects.get",
            "projects/bucketproj/buckets/landing/objects/"
            "landing/jobs/run=r1/window=w1/page-00001.json.gz",
        ),
        ("storage.objects.get", "projects/bucketproj/buckets/landing/objects/x/*"),
        ("storage.objects.list", "projects/bucketproj/buckets/landing"),
    ]
    # CREATE_IF_NEEDED (the default) on a missing table also creates it
    missing = job(body, table_exists=lambda *a: False, bucket_project=lambda b: P)
    assert ("bigquery.tables.create", ds("st_stage")) in missing
    never = LoadJob(
        "l2", uris[:1], dest, client(), bigquery.LoadJobConfig(create_disposition="CREATE_NEVER")
    ).to_api_repr()
    assert ("bigquery.tables.create", ds("st_stage")) not in job(never)


def test_load_from_a_file_upload_is_judged_at_session_start() -> None:
    path = f"/upload/bigquery/v2/projects/{P}/jobs"
    assert bq.body_needed("POST", path, {"uploadType": "resumable"}) == "json"
    assert bq.body_needed("POST", path, {"uploadType": "multipart"}) == "multipart"
    body = {
        "configuration": {
            "load": {"destinationTable": {"projectId": P, "datasetId": "d", "tableId": "t"}}
        }
    }
    checks = bq.checks("POST", path, {"uploadType": "resumable"}, body=body)
    assert ("bigquery.tables.updateData", tbl("d", "t")) in checks
    assert bq.checks("PUT", path, {"uploadType": "resumable", "upload_id": "u"}) == []


def test_copy_and_extract_jobs() -> None:
    src = bigquery.TableReference.from_string(f"{P}.raw.jobs")
    dst = bigquery.TableReference.from_string(f"{P}.dim.jobs_copy")
    body = CopyJob("c1", [src], dst, client()).to_api_repr()
    assert job(body, table_exists=lambda *a: True)[1:] == [
        ("bigquery.tables.get", tbl("raw", "jobs")),
        ("bigquery.tables.getData", tbl("raw", "jobs")),
        ("bigquery.tables.updateData", tbl("dim", "jobs_copy")),
    ]
    body = ExtractJob("e1", src, ["gs://exports/jobs-*.json"], client()).to_api_repr()
    assert job(body, bucket_project=lambda b: P)[1:] == [
        ("bigquery.tables.getData", tbl("raw", "jobs")),
        ("bigquery.tables.export", tbl("raw", "jobs")),
        ("storage.objects.create", obj("exports", "jobs-*.json")),
    ]


def test_jobs_query_uses_its_default_dataset() -> None:
    body = {"query": "SELECT * FROM runs", "useLegacySql": False,
            "defaultDataset": {"projectId": P, "datasetId": "st_ops"}}  # fmt: skip
    assert rest("POST", "queries", body=body) == [
        ("bigquery.jobs.create", f"projects/{P}"),
        ("bigquery.tables.getData", tbl("st_ops", "runs")),
    ]


# every SQL file the project runs is judged (a statement sqlglot cannot read would be refused)
SAMPLE = {
    "project": P, "raw": "st_raw", "stage": "st_stage", "dim": "st_dim", "mart": "st_mart",
    "ops": "st_ops", "report_tz": "America/Phoenix", "table": "jobs", "staging": "jobs__r__w",
    "columns": "id, v", "source_columns": "S.id, S.v", "keys": "id", "key": "id",
    "key_match": "T.id = S.id", "version": "modified_on", "update_set": "v = S.v",
    "prune": "", "slice": "TRUE", "since": "TIMESTAMP '2025-01-01 00:00:00+00'",
    "partition_field": "created_on",
    "date_column": "created_on", "days": "7",
    "day": "DATE '2024-01-01'", "limit": "10", "weeks": "4", "week_start": "DATE '2024-01-01'",
    "week_from": "'2024-01-01'", "week_to": "'2024-12-31'", "kpi": "'leads'", "bu": "'HVAC'",
    "bu_map_names": "'a', 'b'", "bu_map_rows": "('a', 'a', 'sales', 'east')",
    "job_type_pattern_rows": "('lead', '%lead%')", "include_materials": "TRUE",
    "materials_include_tax": "TRUE", "week_start_day": "'monday'", "week_start_dow": "2",
    # the combined view's tenants (stkpi.combined) and the report's group of them
    "tenant_union": f"SELECT '1' AS tenant_id, 'a' AS display_name, 'UTC' AS time_zone, "
                    f"'monday' AS weeks_start, * FROM `{P}.st_mart.kpi_weekly`",
    "time_zone": "'UTC'", "weeks_start": "'monday'",
    "test_customer_pattern": "'%test%'", "table_ref": f"{P}.st_raw.jobs",
    # the MERGE's source: the UNION ALL of a run's window staging tables
    "source": f"(SELECT * FROM `{P}.st_stage.jobs__r__w1` "
              f"UNION ALL SELECT * FROM `{P}.st_stage.jobs__r__w2`)",
    "hours": "672", "min_gap_hours": "1", "st_keys": "ARRAY<STRING>['leads:1']",
    "entity": "jobs", "i": "0",
    **registry_sql(f"{P}.st_mart"),  # the KPI registry's union and columns
    # the key scan's range and mark time (stkpi.key_scan renders them from the plan)
    "scope": "T.created_on >= TIMESTAMP '2000-01-01T00:00:00Z'",
    "scanned_at": "TIMESTAMP '2026-01-04T00:00:00Z'",
}  # fmt: skip
# the raw tables' template is judged once per entity, as the registry renders it (below)
SQL_FILES = sorted(
    rel
    for rel in (p.relative_to(SQL_DIR).as_posix() for p in SQL_DIR.rglob("*.sql"))
    if rel != raw_ddl.TEMPLATE
)


def _judge(label: str, text: str) -> None:
    datasets = {SAMPLE[k] for k in ("raw", "stage", "dim", "mart", "ops")}
    for statement in statements(text):
        for permission, resource in bqsql.sql_checks(statement, P):
            assert permission.startswith("bigquery."), (statement, permission)
            parts = resource.split("/")
            assert parts[:2] == ["projects", P], resource
            assert len(parts) == 2 or parts[3] in datasets, (label, resource)


@pytest.mark.parametrize("relpath", SQL_FILES)
def test_every_project_sql_file_is_judged(relpath: str) -> None:
    _judge(relpath, Template((SQL_DIR / relpath).read_text()).substitute(SAMPLE))


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_every_raw_table_ddl_is_judged(entity: Entity) -> None:
    _judge(entity.name, Template(raw_ddl.ddl_text(entity)).substitute(SAMPLE))


# ---- Pub/Sub ----------------------------------------------------------------------------------


def call(method: str, request) -> list:
    return ps.checks(method, type(request).serialize(request))


TOPIC, SUB = f"projects/{P}/topics/st-plan", f"projects/{P}/subscriptions/st-plan-push"


def test_publish_and_topic_admin() -> None:
    pub = ps.PUBLISHER
    msg = types.PubsubMessage(data=b"{}", attributes={"v": "1"})
    assert call(pub + "Publish", types.PublishRequest(topic=TOPIC, messages=[msg])) == [
        ("pubsub.topics.publish", TOPIC)
    ]
    assert call(pub + "CreateTopic", types.Topic(name=TOPIC)) == [
        ("pubsub.topics.create", f"projects/{P}")
    ]
    assert call(pub + "GetTopic", types.GetTopicRequest(topic=TOPIC)) == [
        ("pubsub.topics.get", TOPIC)
    ]
    assert call(pub + "DeleteTopic", types.DeleteTopicRequest(topic=TOPIC)) == [
        ("pubsub.topics.delete", TOPIC)
    ]


def test_subscriptions() -> None:
    sub = ps.SUBSCRIBER
    create = types.Subscription(name=SUB, topic=TOPIC, ack_deadline_seconds=60)
    assert call(sub + "CreateSubscription", create) == [
        ("pubsub.subscriptions.create", f"projects/{P}"),
        ("pubsub.topics.attachSubscription", TOPIC),
    ]
    consume = [("pubsub.subscriptions.consume", SUB)]
    assert call(sub + "Pull", types.PullRequest(subscription=SUB, max_messages=10)) == consume
    assert (
        call(sub + "Acknowledge", types.AcknowledgeRequest(subscription=SUB, ack_ids=["a"]))
        == consume
    )
    mod = types.ModifyAckDeadlineRequest(subscription=SUB, ack_ids=["a"], ack_deadline_seconds=0)
    assert call(sub + "ModifyAckDeadline", mod) == consume
    first = types.StreamingPullRequest(subscription=SUB, stream_ack_deadline_seconds=60)
    assert sub + "StreamingPull" in ps.STREAMING
    assert call(sub + "StreamingPull", first) == consume
    push = types.ModifyPushConfigRequest(subscription=SUB, push_config=types.PushConfig())
    assert call(sub + "ModifyPushConfig", push) == [("pubsub.subscriptions.update", SUB)]
    assert call(sub + "GetSubscription", types.GetSubscriptionRequest(subscription=SUB)) == [
        ("pubsub.subscriptions.get", SUB)
    ]
    assert call(sub + "DeleteSubscription", types.DeleteSubscriptionRequest(subscription=SUB)) == [
        ("pubsub.subscriptions.delete", SUB)
    ]


def test_pubsub_calls_without_a_rule_are_refused() -> None:
    with pytest.raises(NoRule, match=r"no rule for gRPC /google\.iam\.v1\.IAMPolicy/SetIamPolicy"):
        ps.checks("/google.iam.v1.IAMPolicy/SetIamPolicy", b"")
    with pytest.raises(NoRule, match="not a topic name"):
        call(ps.PUBLISHER + "Publish", types.PublishRequest(topic="st-plan"))


def test_a_statement_is_judged_once_and_one_that_cannot_be_judged_fails_every_time() -> None:
    sql = "MERGE `p.d.t` T USING `p.d.s` S ON T.id = S.id WHEN MATCHED THEN DELETE"
    bqsql._checks_of.cache_clear()
    first = bqsql.sql_checks(sql, "p")
    again = bqsql.sql_checks(sql, "p")
    assert again == first and again is not first  # each caller gets its own list
    assert ("bigquery.tables.updateData", "projects/p/datasets/d/tables/t") in first
    info = bqsql._checks_of.cache_info()
    assert (info.hits, info.misses) == (1, 1)
    for _ in range(2):
        with pytest.raises(NoRule, match="does not parse"):
            bqsql.sql_checks("SELECT FROM WHERE (", "p")
