"""The front door: Cloud Run's capacity and Pub/Sub's deliveryAttempt, without services."""

from __future__ import annotations

import json

from stkpi_tools.localstack.front import Door


def _envelope(message_id: str, **extra: object) -> bytes:
    body = {"message": {"data": "e30=", "messageId": message_id}, "subscription": "s", **extra}
    return json.dumps(body).encode()


def test_capacity_admits_up_to_max_instances_times_concurrency_then_refuses() -> None:
    door = Door(name="fetch_window", backend="http://127.0.0.1:9", capacity=2, timeout=5)
    assert door.admit() and door.admit()
    assert not door.admit()  # a third at once: 429, as Cloud Run answers
    door.leave()
    assert door.admit()  # a freed slot is usable again
    assert door.snapshot()["refused_429"] == 1
    assert door.snapshot()["peak_in_flight"] == 2


def test_attempts_are_counted_per_message_refusals_included_and_reset_on_ack() -> None:
    door = Door(name="load_batch", backend="http://127.0.0.1:9", capacity=1, timeout=5)
    attempts = []
    for status in (429, 500, 204):  # refused, failed, acked: three deliveries of m1
        body, key = door.with_attempt(_envelope("m1"))
        attempts.append(json.loads(body)["deliveryAttempt"])
        door.settled(key, status)
    assert attempts == [1, 2, 3]
    body, _ = door.with_attempt(_envelope("m2"))
    assert json.loads(body)["deliveryAttempt"] == 1  # another message counts on its own
    assert door.attempts == {("s", "m2"): 1}  # m1 was acked: forgotten, as Pub/Sub does


def test_an_envelope_that_carries_the_attempt_is_passed_on_unchanged() -> None:
    door = Door(name="plan_windows", backend="http://127.0.0.1:9", capacity=1, timeout=5)
    original = _envelope("m1", deliveryAttempt=4)
    body, key = door.with_attempt(original)
    assert body == original and key is None
    junk, key = door.with_attempt(b"not json")
    assert junk == b"not json" and key is None  # the function answers 400 itself
