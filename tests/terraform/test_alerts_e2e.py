"""The freshness and volume alerts fire on what a running rebuild_dims function prints.

On the session's BigQuery and GCS emulators: a tenant that is healthy by the wall clock
(the function judges against its own clock), one rebuild_dims function server per test
(functions-framework, the real ``functions/rebuild_dims/main.py``, its stdout in a log
file as Cloud Run's would be), and the daily scheduled validation message pushed to it as
Pub/Sub would. Every JSON line of its log becomes the LogEntry Cloud Logging would make of
it; the filters come from terraform/ (tests/terraform/test_alerts.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from filters import extract, log_matches, monitoring_matches
from google.cloud import bigquery, pubsub_v1
from test_alerts import (
    TF,
    alert_check_value,
    entries_of,
    example_tfvars,
    firing,
    logging_metric,
)

from stkpi.config import Settings, load_settings
from stkpi.deadletters import count_dead_letters
from stkpi.registry import TRANSACTIONAL
from stkpi.validation.config import ValidationConfig
from stkpi.warehouse import ensure_tables
from stkpi_tools.localstack.functions import functions_dir
from stkpi_tools.localstack.services import start_function
from stkpi_tools.localstack.settings_env import local_topology
from stkpi_tools.localstack.wiring import wire
from stkpi_tools.terraform.hcl import Module

pytestmark = pytest.mark.integration

UTC = dt.UTC
CORE = ValidationConfig().volume_entities  # jobs, appointments, invoices, estimates, payments
# The volume check's minimum median (20 a day), so a lost day is judged ...
PER_DAY = int(ValidationConfig().volume_min_base)
DAYS = 7 * ValidationConfig().volume_weeks + 4  # ... over its weeks of history, and more
# The daily validation's message (terraform/scheduler.tf, daily-validation).
SCHEDULED = {"v": 1, "run_id": "validate-daily", "entities": [], "mode": "validate"}


def _iso(ts: dt.datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Tenant:
    client: bigquery.Client
    settings: Settings
    env: dict[str, str]
    now: dt.datetime
    ids_by_day: dict[tuple[str, dt.date], list[int]]

    def table(self, layer: str, name: str) -> str:
        return f"{self.settings.gcp_project}.{self.settings.dataset(layer)}.{name}"

    def sql(self, text: str) -> None:
        self.client.query(text).result()

    def insert(self, layer: str, name: str, rows: list[dict]) -> None:
        assert not self.client.insert_rows_json(self.table(layer, name), rows)

    @property
    def yesterday(self) -> dt.date:
        return self.now.astimezone(self.settings.tz).date() - dt.timedelta(days=1)


@pytest.fixture
def tenant(bq_emulator, gcs_emulator) -> Tenant:
    """Healthy as of now: PER_DAY records a day for DAYS days in every core entity, one
    modified an hour ago, and every core entity synced an hour ago."""
    prefix = f"a{uuid.uuid4().hex[:8]}"
    bucket = f"alerts-{prefix}"
    env = {
        **bq_emulator.env,
        **gcs_emulator.env,
        "BQ_DATASET_PREFIX": prefix,
        "LANDING_BUCKET": bucket,
    }
    settings = load_settings(env)
    gcs_emulator.client.create_bucket(bucket)
    ensure_tables(bq_emulator.client, settings)
    now = dt.datetime.now(UTC)
    t = Tenant(bq_emulator.client, settings, env, now, {})
    today = now.astimezone(settings.tz).date()
    ids = itertools.count(1)
    for entity in CORE:
        rows = []
        for back in range(1, DAYS + 1):
            day = today - dt.timedelta(days=back)
            noon = dt.datetime.combine(day, dt.time(12), settings.tz)
            for k in range(PER_DAY):
                rid = next(ids)
                t.ids_by_day.setdefault((entity, day), []).append(rid)
                rows.append(_record(rid, noon + dt.timedelta(minutes=20 * k)))
        # A fresh record, dated today in the report time zone even in the day's first
        # hour (an hour ago would then be yesterday, the day the volume check counts).
        midnight = dt.datetime.combine(today, dt.time(0), settings.tz)
        rows.append(_record(next(ids), max(now - dt.timedelta(hours=1), midnight)))
        t.insert("raw", entity, rows)
    synced = _iso(now - dt.timedelta(hours=1))
    t.insert(
        "ops",
        "sync_state",
        [
            {"entity": e, "high_water": synced, "run_id": "run-1", "event_time": synced}
            for e in CORE
        ],
    )
    assert set(CORE) <= set(TRANSACTIONAL)
    return t


def _record(rid: int, ts: dt.datetime) -> dict[str, Any]:
    return {
        "id": rid,
        "created_on": _iso(ts),
        "modified_on": _iso(ts),
        "payload": json.dumps({"id": rid}),
        "_run_id": "run-1",
        "_window_id": "w1",
    }


def _push_envelope(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "message": {
            "data": base64.b64encode(json.dumps(message).encode()).decode(),
            "messageId": uuid.uuid4().hex,
            "publishTime": _iso(dt.datetime.now(UTC)),
            "attributes": {},
        },
        "subscription": "projects/local/subscriptions/st-rebuild-to-st-rebuild-dims",
        "deliveryAttempt": 1,
    }


@pytest.fixture
def run_scheduled_validation(tmp_path: Path, tenant: Tenant) -> Iterator:
    """Start rebuild_dims on the tenant's datasets; the returned call pushes the scheduled
    validation message to it and returns the JSON lines the function printed meanwhile.
    The server is stopped after the test."""
    source = functions_dir() / "rebuild_dims" / "main.py"
    server = start_function(tmp_path, "rebuild_dims", source, env=tenant.env, threads=2)
    try:

        def run() -> list[dict[str, Any]]:
            offset = server.log_path.stat().st_size
            resp = requests.post(f"{server.url}/", json=_push_envelope(SCHEDULED), timeout=300)
            assert resp.status_code < 300, (resp.status_code, resp.text, server.log_tail())
            text = server.log_path.read_bytes()[offset:].decode(errors="replace")
            lines = []
            for raw in text.splitlines():
                if raw.startswith("{"):
                    try:
                        lines.append(json.loads(raw))
                    except ValueError:
                        continue
            assert any(x.get("event") == "validation" for x in lines), server.log_tail(60)
            return lines

        yield run
    finally:
        server.stop()


def _validation_lines(lines: list[dict[str, Any]], family: str) -> list[dict[str, Any]]:
    return [x for x in lines if x.get("event") == "validation" and x.get("check") == family]


def _assert_fires(lines: list[dict[str, Any]], policy: str, family: str, entity: str) -> None:
    entries = entries_of(lines)
    metric = logging_metric("validation_failed")
    counted = [e for e in entries if log_matches(metric["filter"], e)]
    labels = {extract(metric["label_extractors"]["check"], e) for e in counted}
    assert family in labels
    assert alert_check_value(policy) == family
    hits = firing(entries).get(policy, [])
    assert {e["jsonPayload"]["entity"] for e in hits} == {entity}
    assert all(e["severity"] == "WARNING" for e in hits)


def test_healthy_run_fires_neither_alert(tenant: Tenant, run_scheduled_validation) -> None:
    lines = run_scheduled_validation()
    for family in ("freshness", "volume_drop"):
        mine = _validation_lines(lines, family)
        assert mine and all(x["passed"] for x in mine), mine
    assert {x["entity"] for x in _validation_lines(lines, "volume_drop")} == set(CORE)
    fired = firing(entries_of(lines))
    assert "freshness" not in fired and "volume_drop" not in fired


def test_stale_data_fires_the_freshness_alert(tenant: Tenant, run_scheduled_validation) -> None:
    # Invoices stopped syncing 49 h ago: nothing modified since, and an old sync mark.
    stale = _iso(tenant.now - dt.timedelta(hours=49))
    tenant.sql(
        f"UPDATE `{tenant.table('raw', 'invoices')}` SET modified_on = TIMESTAMP '{stale}' "
        f"WHERE modified_on > TIMESTAMP '{stale}'"
    )
    tenant.sql(f"DELETE FROM `{tenant.table('ops', 'sync_state')}` WHERE entity = 'invoices'")
    tenant.insert(
        "ops",
        "sync_state",
        [{"entity": "invoices", "high_water": stale, "run_id": "run-0", "event_time": stale}],
    )
    lines = run_scheduled_validation()
    _assert_fires(lines, "freshness", "freshness", "invoices")
    assert "volume_drop" not in firing(entries_of(lines))


def test_dropped_day_fires_the_volume_alert(tenant: Tenant, run_scheduled_validation) -> None:
    gone = tenant.ids_by_day[("jobs", tenant.yesterday)]
    tenant.sql(
        f"DELETE FROM `{tenant.table('raw', 'jobs')}` WHERE id IN ({', '.join(map(str, gone))})"
    )
    lines = run_scheduled_validation()
    _assert_fires(lines, "volume_drop", "volume_drop", "jobs")
    assert "freshness" not in firing(entries_of(lines))


def test_a_dead_letter_moves_the_dead_letter_alerts_metric(pubsub_emulator) -> None:
    """A message that fails every delivery lands where the dead-letter alert looks: the
    subscription Pub/Sub moved it to is one the alert's filter selects, and its
    num_undelivered_messages (the alert's metric) is above the threshold."""
    variables = {"name_prefix": f"al{uuid.uuid4().hex[:6]}-"}
    topology = local_topology(pubsub_emulator.project, variables)
    paths = wire(topology, mode="pull")["rebuild_dims"]  # terraform's policies, pulled here
    pub, sub = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    pub.publish(paths["topic"], b'{"v":1,"run_id":"never","entities":[]}').result()
    settings = load_settings({**pubsub_emulator.env, **topology.functions["rebuild_dims"].env})
    deadline = time.monotonic() + 90
    # Fail every delivery, as a function that keeps answering 500 would, until Pub/Sub
    # gives up after terraform's max_delivery_attempts and moves the message.
    while not (waiting := count_dead_letters(settings, ack=False)[settings.topic_rebuild]):
        assert time.monotonic() < deadline, "the message never reached the dead-letter hold"
        resp = sub.pull(
            request={
                "subscription": paths["subscription"],
                "max_messages": 1,
                "return_immediately": True,
            },
            timeout=10,
        )
        if resp.received_messages:
            sub.modify_ack_deadline(
                request={
                    "subscription": paths["subscription"],
                    "ack_ids": [m.ack_id for m in resp.received_messages],
                    "ack_deadline_seconds": 0,
                }
            )
        time.sleep(0.3)
    sub.close()
    assert waiting == 1
    # the alert, evaluated from terraform/ with the same deployment's topic names
    deployed = Module(TF, {**example_tfvars(), **variables})
    (policy,) = deployed.instances("google_monitoring_alert_policy", "dead_letters").values()
    (condition,) = policy.block("conditions")
    (threshold,) = condition.block("condition_threshold")
    held = paths["dead_subscription"].rsplit("/", 1)[1]
    series = {
        "metric": {"type": "pubsub.googleapis.com/subscription/num_undelivered_messages"},
        "resource": {"type": "pubsub_subscription", "labels": {"subscription_id": held}},
    }
    assert monitoring_matches(threshold.attr("filter"), series)
    assert waiting > threshold.attr("threshold_value")
