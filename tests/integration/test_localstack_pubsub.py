"""Pub/Sub emulator push -> functions-framework: the push envelope, retry, dead letter."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from google.cloud import pubsub_v1

from stkpi_tools.localstack import start_function
from stkpi_tools.localstack.wiring import (
    drain,
    ensure_subscription,
    ensure_topic,
    pull_subscription,
)

pytestmark = pytest.mark.integration

FN_SOURCE = Path(__file__).parent / "localstack_fn" / "main.py"


def _wait_for(predicate: Callable[[], object], timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def fn_servers(stack_root: Path, pubsub_emulator) -> Iterator[dict]:
    record = stack_root / f"fn-{uuid.uuid4().hex[:6]}.jsonl"
    env = {"FN_RECORD_FILE": str(record)}
    echo = start_function(stack_root, "echo", FN_SOURCE, env=env)
    fail = start_function(stack_root, "fail", FN_SOURCE, env=env)
    try:
        yield {"echo": echo, "fail": fail, "record": record}
    finally:
        echo.stop()
        fail.stop()


def _wire(project: str, endpoint: str) -> tuple[str, str]:
    pub, sub = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    name = f"tp-{uuid.uuid4().hex[:8]}"
    topic = ensure_topic(pub, project, name)
    ensure_topic(pub, project, f"{name}-dead")
    dead_sub = ensure_subscription(
        sub, project, pull_subscription(f"{name}-dead-sub", f"{name}-dead")
    )
    push = replace(
        pull_subscription(f"{name}-push", name),
        push=True,
        min_backoff_seconds=0.1,
        max_backoff_seconds=1.0,
        dead_letter_topic=f"{name}-dead",
        max_delivery_attempts=5,
    )
    ensure_subscription(sub, project, push, push_endpoint=endpoint)
    sub.close()
    return topic, dead_sub


def test_push_arrives_as_the_push_envelope(pubsub_emulator, fn_servers) -> None:
    topic, _ = _wire(pubsub_emulator.project, fn_servers["echo"].url + "/")
    body = json.dumps({"v": 1, "run_id": "r-push"})
    pubsub_v1.PublisherClient().publish(topic, body.encode(), run_id="r-push").result()

    def got():
        return [r for r in _records(fn_servers["record"]) if r["data"] == body]

    (rec,) = _wait_for(got, 20, "the echo function to receive the message")
    assert rec["subscription"].endswith("-push")
    assert rec["attributes"] == {"run_id": "r-push"}
    # Pub/Sub sends deliveryAttempt on a subscription with a dead-letter policy; the
    # emulator does not (docs/EMULATOR_GAPS.md): the stack's front door fills it in.
    # When this fails, the emulator closed the gap and the front door can stop counting.
    assert rec["delivery_attempt"] is None
    assert rec["outcome"] == "ok"
    time.sleep(1.5)  # acked: no redelivery
    assert len(got()) == 1


def test_raising_function_is_retried_then_dead_lettered(pubsub_emulator, fn_servers) -> None:
    topic, dead_sub = _wire(pubsub_emulator.project, fn_servers["fail"].url + "/")
    body = json.dumps({"v": 1, "poison": uuid.uuid4().hex})
    pubsub_v1.PublisherClient().publish(topic, body.encode()).result()
    dead = _wait_for(lambda: drain(dead_sub, timeout=2), 60, "the dead-letter topic")
    assert [m.message.data.decode() for m in dead] == [body]
    attempts = [r for r in _records(fn_servers["record"]) if r["data"] == body]
    assert len(attempts) == 5
    assert all(r["outcome"] == "raised" for r in attempts)
