"""Pub/Sub wiring of the local stack, exactly as terraform/ declares it.

Every topic, dead-letter topic and subscription (name, ack deadline, retry policy,
dead-letter policy) comes from ``stkpi_tools.terraform.topology``, which evaluates terraform/:
there is no second list of names or policies here. The push subscriptions that drive the
functions push to the functions' front doors (``stkpi_tools.localstack.front``), or, in
dispatcher mode, are created as pull subscriptions of the same name and policies that
``stkpi_tools.localstack.dispatcher`` drains with more concurrency than the emulator's push.
Everything is idempotent (existing resources are kept).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping

from google.api_core.exceptions import AlreadyExists
from google.cloud import pubsub_v1
from google.protobuf import duration_pb2

from stkpi_tools.terraform.topology import Topology


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
    max_delivery_attempts: int | None = None,
    min_backoff: float | None = None,
    max_backoff: float | None = None,
    ack_deadline: int = 60,
) -> str:
    """Create a subscription (push when ``push_endpoint``); an existing one is updated."""
    path = subscriber.subscription_path(project, name)
    request: dict = {"name": path, "topic": topic_path, "ack_deadline_seconds": ack_deadline}
    if push_endpoint:
        request["push_config"] = {"push_endpoint": push_endpoint}
    if dead_letter_topic_path:
        request["dead_letter_policy"] = {
            "dead_letter_topic": dead_letter_topic_path,
            "max_delivery_attempts": max_delivery_attempts or 5,
        }
    if min_backoff is not None or max_backoff is not None:
        request["retry_policy"] = {
            # Pub/Sub's defaults for a side left unset; 0 s is a valid backoff, kept as is
            "minimum_backoff": _duration(10.0 if min_backoff is None else min_backoff),
            "maximum_backoff": _duration(600.0 if max_backoff is None else max_backoff),
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
    topology: Topology,
    *,
    endpoints: Mapping[str, str] | None = None,
    mode: str = "push",
) -> dict[str, dict[str, str]]:
    """Create terraform/'s topics and subscriptions; returns paths per function.

    ``endpoints`` maps function key -> push URL. In ``push`` mode a push subscription whose
    function has no endpoint, and in ``pull`` mode every push subscription, is created as
    a pull subscription with the same name and policies (messages wait instead of being
    pushed nowhere). Returns, per function: its topic, its subscription, the topic's
    dead-letter topic and the subscription that holds its dead letters.
    """
    if mode not in ("push", "pull"):
        raise ValueError("mode must be push or pull")
    project = topology.project
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    try:
        for topic in topology.topics:
            ensure_topic(publisher, project, topic)
        for sub in topology.subscriptions.values():
            endpoint = (endpoints or {}).get(sub.function or "") if sub.push else None
            dead = sub.dead_letter_topic
            ensure_subscription(
                subscriber,
                project,
                sub.name,
                publisher.topic_path(project, sub.topic),
                push_endpoint=endpoint if mode == "push" else None,
                dead_letter_topic_path=publisher.topic_path(project, dead) if dead else None,
                max_delivery_attempts=sub.max_delivery_attempts,
                min_backoff=sub.min_backoff_seconds,
                max_backoff=sub.max_backoff_seconds,
                ack_deadline=sub.ack_deadline_seconds,
            )
        return {
            key: {
                "topic": publisher.topic_path(project, fn.topic),
                "subscription": subscriber.subscription_path(project, fn.subscription),
                "dead_topic": publisher.topic_path(project, topology.dead_letter_topic(fn.topic)),
                "dead_subscription": subscriber.subscription_path(
                    project, topology.dead_letter_subscription(fn.topic)
                ),
            }
            for key, fn in topology.functions.items()
        }
    finally:
        subscriber.close()
        publisher.transport.close()


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
