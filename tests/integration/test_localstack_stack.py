"""The Stack: start, provision, wire, record stack.json, stop everything it started.

The stack is terraform/'s deployment: names and policies come from there, functions get
Pub/Sub's push envelope (with deliveryAttempt) and a front door with Cloud Run's capacity.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import requests
from google.cloud import pubsub_v1

from stkpi.deadletters import count_dead_letters
from stkpi_tools.localstack import Stack, StackInfo
from stkpi_tools.localstack.process import pgid_alive
from stkpi_tools.localstack.settings_env import settings_from

pytestmark = pytest.mark.integration

FN_SOURCE = Path(__file__).parent / "localstack_fn" / "main.py"
FUNCTIONS = ("plan_windows", "fetch_window", "load_batch", "rebuild_dims")


def _services(bq_emulator, gcs_emulator, pubsub_emulator) -> dict:
    return {
        "gcs": gcs_emulator.service,
        "bigquery": bq_emulator.service,
        "pubsub": pubsub_emulator.service,
    }


def _echo_stack(tmp_path: Path, emulators: dict, prefix: str, delay: float, **kw) -> Stack:
    """The stack with test functions that record each delivery (after ``delay`` s), on
    topics of its own (``prefix``) in the shared emulator."""
    sources = {fn: (FN_SOURCE, "echo") for fn in FUNCTIONS}
    return Stack(
        tmp_path / "stack",
        with_simulator=False,
        st_api_base_url="http://127.0.0.1:9",
        settings_env={
            "FN_RECORD_FILE": str(tmp_path / "calls.jsonl"),
            "FN_DELAY_SECONDS": str(delay),
        },
        tf_variables={"name_prefix": prefix},
        function_sources=sources,
        reuse=emulators,
        **kw,
    )


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _wait(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("dispatcher", [None, 4], ids=["push", "dispatcher"])
def test_stack_wires_topics_to_function_servers(
    tmp_path, bq_emulator, gcs_emulator, pubsub_emulator, dispatcher
) -> None:
    record = tmp_path / "calls.jsonl"
    tag = f"d{dispatcher}" if dispatcher else "push"  # own topics in the shared emulator
    sources = {fn: (FN_SOURCE, "fail" if fn == "rebuild_dims" else "echo") for fn in FUNCTIONS}
    stack = Stack(
        tmp_path / "stack",
        with_simulator=False,
        st_api_base_url="http://127.0.0.1:9",
        settings_env={"FN_RECORD_FILE": str(record)},
        tf_variables={"name_prefix": f"{tag}-"},
        function_sources=sources,
        dispatcher_concurrency=dispatcher,
        reuse=_services(bq_emulator, gcs_emulator, pubsub_emulator),
    )
    with stack as info:
        saved = StackInfo.load(tmp_path / "stack")
        assert saved.pids == info.pids and set(saved.owned) >= {f"fn-{f}" for f in FUNCTIONS}
        env = info.env()
        for key in ("BIGQUERY_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST"):
            assert env[key]
        settings = settings_from(env)
        # provisioned: bucket, datasets, raw tables
        assert gcs_emulator.client.lookup_bucket(settings.landing_bucket) is not None
        bq = bq_emulator.client
        assert bq.get_table(f"{settings.gcp_project}.{settings.dataset('raw')}.jobs")
        # terraform's names: topics from local.topics with the prefix, push subscriptions
        # "<topic>-to-<function name>"
        assert settings.topic_plan == f"{tag}-st-plan"
        # a message on st-plan reaches plan_windows as Pub/Sub's push envelope
        pub = pubsub_v1.PublisherClient()
        pub.publish(pub.topic_path(settings.gcp_project, settings.topic_plan), b"hi").result()
        got = _wait(lambda: [r for r in _records(record) if r["data"] == "hi"], 30, "plan_windows")
        assert got[0]["subscription"] == (
            f"projects/{settings.gcp_project}/subscriptions/{tag}-st-plan-to-{tag}-st-plan-windows"
        )
        assert got[0]["delivery_attempt"] == 1
        if dispatcher:
            stats = requests.get(info.url("dispatcher"), timeout=5).json()
            assert stats.get("plan_windows.acked") == 1
        # a failing function dead-letters after 5 attempts
        topic = pub.topic_path(settings.gcp_project, settings.topic_rebuild)
        pub.publish(topic, f"poison-{dispatcher}".encode()).result()
        dead = _wait(
            lambda: count_dead_letters(settings).get(settings.topic_rebuild), 90, "dead letter"
        )
        assert dead == 1
        attempts = [r for r in _records(record) if r["data"] == f"poison-{dispatcher}"]
        # terraform's max_delivery_attempts (5), each numbered as Pub/Sub numbers them
        assert [r["delivery_attempt"] for r in attempts] == [1, 2, 3, 4, 5]
    for name in info.owned:
        assert not pgid_alive(info.pids[name]), name
    assert not (tmp_path / "stack" / "stack.json").exists()
    assert bq_emulator.service.alive()  # reused services are left running
    assert os.environ.get("PUBSUB_EMULATOR_HOST")


def _max_overlap(records: list[dict]) -> int:
    events = sorted([(r["started"], 1) for r in records] + [(r["at"], -1) for r in records])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_dispatcher_delivers_concurrently(
    tmp_path, bq_emulator, gcs_emulator, pubsub_emulator
) -> None:
    """Push mode delivers at most 2 at a time; the dispatcher reaches its concurrency."""
    record = tmp_path / "calls.jsonl"
    emulators = _services(bq_emulator, gcs_emulator, pubsub_emulator)
    stack = _echo_stack(tmp_path, emulators, "conc-", 0.5, dispatcher_concurrency=6)
    with stack as info:
        settings = settings_from(info.env())
        pub = pubsub_v1.PublisherClient()
        topic = pub.topic_path(settings.gcp_project, settings.topic_windows)
        for f in [pub.publish(topic, f"m{i}".encode()) for i in range(12)]:
            f.result()
        got = _wait(lambda: len(r := _records(record)) >= 12 and r, 30, "12 deliveries")
    assert sorted(r["data"] for r in got) == sorted(f"m{i}" for i in range(12))
    assert _max_overlap(got) >= 4


def test_a_function_at_capacity_answers_429_and_pubsub_counts_the_attempt(
    tmp_path, bq_emulator, gcs_emulator, pubsub_emulator
) -> None:
    """plan_windows runs at most max_instance_count x concurrency deliveries at once
    (terraform: 2 x 1); the rest are refused with 429 as Cloud Run refuses them, and the
    redelivery carries a higher deliveryAttempt, as Pub/Sub counts a 429 as an attempt."""
    record = tmp_path / "calls.jsonl"
    emulators = _services(bq_emulator, gcs_emulator, pubsub_emulator)
    # the dispatcher asks for 6 at once: more than the function has
    stack = _echo_stack(tmp_path, emulators, "cap-", 1.0, dispatcher_concurrency=6)
    with stack as info:
        settings = settings_from(info.env())
        pub = pubsub_v1.PublisherClient()
        topic = pub.topic_path(settings.gcp_project, settings.topic_plan)
        for f in [pub.publish(topic, f"p{i}".encode()) for i in range(6)]:
            f.result()
        got = _wait(lambda: len(r := _records(record)) >= 6 and r, 90, "6 deliveries")
        doors = requests.get(info.url("front"), timeout=5).json()
    assert sorted(r["data"] for r in got) == sorted(f"p{i}" for i in range(6))
    assert _max_overlap(got) <= 2  # never more than the capacity terraform gives it
    assert doors["plan_windows"]["capacity"] == 2
    assert doors["plan_windows"]["refused_429"] >= 1
    assert max(r["delivery_attempt"] for r in got) >= 2
