"""Pub/Sub wiring of the local stack: topics, dead-letter topics and subscriptions.

For every pipeline topic ``T`` (Settings ``topic_*``):
  - ``T-dead``: its dead-letter topic, with a pull subscription ``T-dead-sub`` so dead
    letters can be counted (``count_dead_letters``);
  - ``T-push`` (push mode): a push subscription delivering to the function server as the
    emulator's wrapped push body, with a retry policy and ``max_delivery_attempts``;
  - ``T-pull`` (dispatcher mode): the same policies on a pull subscription that
    ``stkpi.localstack.dispatcher`` drains with more concurrency than push allows.
Everything is idempotent (existing resources are kept).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping

from google.api_core.exceptions import AlreadyExists
from google.cloud import pubsub_v1
from google.protobuf import duration_pb2

from stkpi.config import Settings

MAX_DELIVERY_ATTEMPTS = 5  # the minimum Pub/Sub allows
MIN_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 10.0
ACK_DEADLINE_SECONDS = 600

# function name -> Settings attribute naming its trigger topic
FUNCTION_TOPICS: dict[str, str] = {
    "plan_windows": "topic_plan",
    "fetch_window": "topic_windows",
    "load_batch": "topic_loads",
    "rebuild_dims": "topic_rebuild",
}


def topics(settings: Settings) -> dict[str, str]:
    """function name -> trigger topic id."""
    return {fn: getattr(settings, attr) for fn, attr in FUNCTION_TOPICS.items()}


def dead_topic(topic: str) -> str:
    return f"{topic}-dead"


def dead_subscription(topic: str) -> str:
    return f"{topic}-dead-sub"


def push_subscription(topic: str) -> str:
    return f"{topic}-push"


def pull_subscription(topic: str) -> str:
    return f"{topic}-pull"


def _duration(seconds: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromTimedelta(dt.timedelta(seconds=seconds))
    return d


def ensure_topic(publisher: pubsub_v1.PublisherClient, project: str, topic: str) -> str:
    path = publisher.topic_path(project, topic)
    with contextlib.suppress(AlreadyExists):
        publisher.create_topic(request={"name": path})
    return path


def ensure_subscription(
    subscriber: pubsub_v1.SubscriberClient,
    project: str,
    name: str,
    topic_path: str,
    *,
    push_endpoint: str | None = None,
    dead_letter_topic_path: str | None = None,
    max_delivery_attempts: int = MAX_DELIVERY_ATTEMPTS,
    min_backoff: float = MIN_BACKOFF_SECONDS,
    max_backoff: float = MAX_BACKOFF_SECONDS,
    ack_deadline: int = ACK_DEADLINE_SECONDS,
) -> str:
    """Create a subscription (push when ``push_endpoint``); an existing one is updated."""
    path = subscriber.subscription_path(project, name)
    request: dict = {
        "name": path,
        "topic": topic_path,
        "ack_deadline_seconds": ack_deadline,
    }
    if push_endpoint:
        request["push_config"] = {"push_endpoint": push_endpoint}
    if dead_letter_topic_path:
        request["dead_letter_policy"] = {
            "dead_letter_topic": dead_letter_topic_path,
            "max_delivery_attempts": max_delivery_attempts,
        }
        request["retry_policy"] = {
            "minimum_backoff": _duration(min_backoff),
            "maximum_backoff": _duration(max_backoff),
        }
    try:
        subscriber.create_subscription(request=request)
    except AlreadyExists:
        if push_endpoint:
            subscriber.modify_push_config(
                request={"subscription": path, "push_config": {"push_endpoint": push_endpoint}}
            )
    return path


def wire(
    settings: Settings,
    *,
    endpoints: Mapping[str, str] | None = None,
    mode: str = "push",
    max_delivery_attempts: int = MAX_DELIVERY_ATTEMPTS,
    min_backoff: float = MIN_BACKOFF_SECONDS,
    max_backoff: float = MAX_BACKOFF_SECONDS,
) -> dict[str, dict[str, str]]:
    """Create topics, dead-letter topics and subscriptions; returns paths per function.

    ``endpoints`` maps function name -> push URL; in ``push`` mode a function without an
    endpoint gets a pull subscription only. ``mode="pull"`` creates pull subscriptions
    for the dispatcher (and no push subscriptions).
    """
    if mode not in ("push", "pull"):
        raise ValueError("mode must be push or pull")
    project = settings.gcp_project
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    out: dict[str, dict[str, str]] = {}
    try:
        for fn, topic in topics(settings).items():
            topic_path = ensure_topic(publisher, project, topic)
            dead_path = ensure_topic(publisher, project, dead_topic(topic))
            ensure_subscription(subscriber, project, dead_subscription(topic), dead_path)
            endpoint = (endpoints or {}).get(fn)
            policy = {
                "dead_letter_topic_path": dead_path,
                "max_delivery_attempts": max_delivery_attempts,
                "min_backoff": min_backoff,
                "max_backoff": max_backoff,
            }
            if mode == "push" and endpoint:
                sub = ensure_subscription(
                    subscriber,
                    project,
                    push_subscription(topic),
                    topic_path,
                    push_endpoint=endpoint,
                    **policy,
                )
            else:
                sub = ensure_subscription(
                    subscriber, project, pull_subscription(topic), topic_path, **policy
                )
            out[fn] = {
                "topic": topic_path,
                "subscription": sub,
                "dead_topic": dead_path,
                "dead_subscription": subscriber.subscription_path(
                    project, dead_subscription(topic)
                ),
            }
    finally:
        subscriber.close()
        publisher.transport.close()
    return out


def drain(subscription_path: str, *, max_messages: int = 1000, timeout: float = 5.0) -> list:
    """Pull and ack up to ``max_messages`` messages (received messages returned)."""
    subscriber = pubsub_v1.SubscriberClient()
    got: list = []
    try:
        while len(got) < max_messages:
            resp = subscriber.pull(
                request={
                    "subscription": subscription_path,
                    "max_messages": min(100, max_messages - len(got)),
                },
                timeout=timeout,
            )
            if not resp.received_messages:
                break
            got.extend(resp.received_messages)
            subscriber.acknowledge(
                request={
                    "subscription": subscription_path,
                    "ack_ids": [m.ack_id for m in resp.received_messages],
                }
            )
    finally:
        subscriber.close()
    return got


PULL_BATCH = 100


def pull_waiting(subscriber: pubsub_v1.SubscriberClient, path: str) -> list:
    """Every message waiting on a subscription, leased to this caller (not acked)."""
    got: list = []
    while True:
        resp = subscriber.pull(
            request={"subscription": path, "max_messages": PULL_BATCH, "return_immediately": True},
            timeout=30,
        )
        if not resp.received_messages:
            return got
        got.extend(resp.received_messages)


def settle(
    subscriber: pubsub_v1.SubscriberClient, path: str, ack_ids: list[str], *, ack: bool
) -> None:
    """Ack leased messages (consumed), or release them at once for the next reader."""
    for i in range(0, len(ack_ids), PULL_BATCH):
        batch = ack_ids[i : i + PULL_BATCH]
        if ack:
            subscriber.acknowledge(request={"subscription": path, "ack_ids": batch})
        else:
            subscriber.modify_ack_deadline(
                request={"subscription": path, "ack_ids": batch, "ack_deadline_seconds": 0}
            )


def count_dead_letters(settings: Settings, *, ack: bool = True) -> dict[str, int]:
    """Messages waiting on each dead-letter subscription (consumed when ``ack``)."""
    project = settings.gcp_project
    subscriber = pubsub_v1.SubscriberClient()
    counts: dict[str, int] = {}
    try:
        for topic in topics(settings).values():
            path = subscriber.subscription_path(project, dead_subscription(topic))
            waiting = pull_waiting(subscriber, path)
            settle(subscriber, path, [m.ack_id for m in waiting], ack=ack)
            counts[topic] = len(waiting)
    finally:
        subscriber.close()
    return counts
