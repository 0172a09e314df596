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

from stkpi.deadletters import settle
from stkpi_tools.terraform.topology import Subscription, Topology


def _duration(seconds: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromTimedelta(dt.timedelta(seconds=seconds))
    return d


def ensure_topic(publisher: pubsub_v1.PublisherClient, project: str, topic: str) -> str:
    path = publisher.topic_path(project, topic)
    with contextlib.suppress(AlreadyExists):
        publisher.create_topic(request={"name": path})
    return path


def pull_subscription(name: str, topic: str) -> Subscription:
    """A pull subscription of the topic named ``topic`` with Pub/Sub's defaults (no retry
    or dead-letter policy): what a test or tool creates to watch a topic."""
    return Subscription(
        name=name,
        topic=topic,
        push=False,
        ack_deadline_seconds=60,
        min_backoff_seconds=None,
        max_backoff_seconds=None,
        dead_letter_topic=None,
        max_delivery_attempts=None,
        function=None,
    )


def ensure_subscription(
    subscriber: pubsub_v1.SubscriberClient,
    project: str,
    sub: Subscription,
    *,
    push_endpoint: str | None = None,
) -> str:
    """Create ``sub`` with terraform's policies (ack deadline, dead letters, retry), pushing
    to ``push_endpoint`` when given, else pulled; an existing one gets the endpoint."""
    path = subscriber.subscription_path(project, sub.name)
    request: dict = {
        "name": path,
        "topic": pubsub_v1.PublisherClient.topic_path(project, sub.topic),
        "ack_deadline_seconds": sub.ack_deadline_seconds,
    }
    if push_endpoint:
        request["push_config"] = {"push_endpoint": push_endpoint}
    if sub.dead_letter_topic:
        request["dead_letter_policy"] = {
            "dead_letter_topic": pubsub_v1.PublisherClient.topic_path(
                project, sub.dead_letter_topic
            ),
            "max_delivery_attempts": sub.max_delivery_attempts or 5,
        }
    low, high = sub.min_backoff_seconds, sub.max_backoff_seconds
    if low is not None or high is not None:
        request["retry_policy"] = {
            # Pub/Sub's defaults for a side left unset; 0 s is a valid backoff, kept as is
            "minimum_backoff": _duration(10.0 if low is None else low),
            "maximum_backoff": _duration(600.0 if high is None else high),
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
            push = endpoint if mode == "push" else None
            ensure_subscription(subscriber, project, sub, push_endpoint=push)
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
            settle(
                subscriber, subscription_path, [m.ack_id for m in resp.received_messages], ack=True
            )
    finally:
        subscriber.close()
    return got
