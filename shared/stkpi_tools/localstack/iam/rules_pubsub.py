"""Pub/Sub gRPC call -> the IAM checks Google makes (pure: no I/O).

``method`` is the full gRPC method (``/google.pubsub.v1.Publisher/Publish``), ``payload``
the serialized request (for StreamingPull: its first message, which names the
subscription). Facts (Pub/Sub access control reference):

- Publish -> ``pubsub.topics.publish`` on the topic; CreateTopic -> ``pubsub.topics.create``
  on the project; GetTopic / UpdateTopic / DeleteTopic -> ``.get`` / ``.update`` /
  ``.delete``; ListTopics -> ``pubsub.topics.list`` on the project;
  ListTopicSubscriptions / ListTopicSnapshots -> ``pubsub.topics.get`` on the topic.
- CreateSubscription -> ``pubsub.subscriptions.create`` on the project and
  ``pubsub.topics.attachSubscription`` on the topic; GetSubscription / UpdateSubscription /
  DeleteSubscription -> ``.get`` / ``.update`` / ``.delete``; ModifyPushConfig ->
  ``pubsub.subscriptions.update``; ListSubscriptions -> ``.list`` on the project;
  Pull / StreamingPull / Acknowledge / ModifyAckDeadline / Seek ->
  ``pubsub.subscriptions.consume`` on the subscription (Seek to a snapshot:
  + ``pubsub.snapshots.seek``).
"""

from __future__ import annotations

from collections.abc import Callable

from google.pubsub_v1 import types

from stkpi_tools.localstack.iam.policy import Check, NoRule

PACKAGE = "/google.pubsub.v1."
PUBLISHER = PACKAGE + "Publisher/"
SUBSCRIBER = PACKAGE + "Subscriber/"


def _project_of(name: str, kind: str) -> str:
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] != kind or not parts[3]:
        raise NoRule(f"iam gate: {name!r} is not a {kind[:-1]} name (projects/P/{kind}/NAME)")
    return f"projects/{parts[1]}"


def _topic(name: str) -> str:
    _project_of(name, "topics")
    return name


def _subscription(name: str) -> str:
    _project_of(name, "subscriptions")
    return name


def _new_topic(name: str) -> str:
    """CreateTopic is granted on the project the topic is created in."""
    return _project_of(name, "topics")


def _project(name: str) -> str:
    if not name.startswith("projects/") or name.count("/") != 1:
        raise NoRule(f"iam gate: {name!r} is not a project name (projects/P)")
    return name


# What each kind of name in a request is checked on.
_ON: dict[str, Callable[[str], str]] = {
    "topic": _topic,
    "subscription": _subscription,
    "new topic": _new_topic,
    "project": _project,
}

# The calls that need one permission on one resource the request names:
# method -> (request type, permission, request field holding the name, kind of name).
# fmt: off
_ONE_CHECK: dict[str, tuple[type, str, str, str]] = {
    "Publisher/CreateTopic": (types.Topic, "pubsub.topics.create", "name", "new topic"),
    "Publisher/UpdateTopic": (types.UpdateTopicRequest, "pubsub.topics.update", "topic.name", "topic"),
    "Publisher/Publish": (types.PublishRequest, "pubsub.topics.publish", "topic", "topic"),
    "Publisher/GetTopic": (types.GetTopicRequest, "pubsub.topics.get", "topic", "topic"),
    "Publisher/ListTopics": (types.ListTopicsRequest, "pubsub.topics.list", "project", "project"),
    "Publisher/ListTopicSubscriptions": (types.ListTopicSubscriptionsRequest, "pubsub.topics.get", "topic", "topic"),
    "Publisher/ListTopicSnapshots": (types.ListTopicSnapshotsRequest, "pubsub.topics.get", "topic", "topic"),
    "Publisher/DeleteTopic": (types.DeleteTopicRequest, "pubsub.topics.delete", "topic", "topic"),
    "Subscriber/GetSubscription": (types.GetSubscriptionRequest, "pubsub.subscriptions.get", "subscription", "subscription"),
    "Subscriber/UpdateSubscription": (types.UpdateSubscriptionRequest, "pubsub.subscriptions.update", "subscription.name", "subscription"),
    "Subscriber/ListSubscriptions": (types.ListSubscriptionsRequest, "pubsub.subscriptions.list", "project", "project"),
    "Subscriber/DeleteSubscription": (types.DeleteSubscriptionRequest, "pubsub.subscriptions.delete", "subscription", "subscription"),
    "Subscriber/ModifyPushConfig": (types.ModifyPushConfigRequest, "pubsub.subscriptions.update", "subscription", "subscription"),
    "Subscriber/ModifyAckDeadline": (types.ModifyAckDeadlineRequest, "pubsub.subscriptions.consume", "subscription", "subscription"),
    "Subscriber/Acknowledge": (types.AcknowledgeRequest, "pubsub.subscriptions.consume", "subscription", "subscription"),
    "Subscriber/Pull": (types.PullRequest, "pubsub.subscriptions.consume", "subscription", "subscription"),
    "Subscriber/StreamingPull": (types.StreamingPullRequest, "pubsub.subscriptions.consume", "subscription", "subscription"),
}
# fmt: on


def _one_check(permission: str, field: str, kind: str) -> Callable[[object], list[Check]]:
    def judge(request: object) -> list[Check]:
        name = request
        for attr in field.split("."):
            name = getattr(name, attr)
        return [(permission, _ON[kind](str(name)))]

    return judge


def _create_subscription(req: types.Subscription) -> list[Check]:
    proj = _project_of(req.name, "subscriptions")
    return [
        ("pubsub.subscriptions.create", proj),
        ("pubsub.topics.attachSubscription", _topic(req.topic)),
    ]


def _seek(req: types.SeekRequest) -> list[Check]:
    out = [("pubsub.subscriptions.consume", _subscription(req.subscription))]
    if req.snapshot:
        _project_of(req.snapshot, "snapshots")
        out.append(("pubsub.snapshots.seek", req.snapshot))
    return out


def _create_snapshot(req: types.CreateSnapshotRequest) -> list[Check]:
    return [
        ("pubsub.snapshots.create", _project_of(req.name, "snapshots")),
        ("pubsub.subscriptions.consume", _subscription(req.subscription)),
    ]


# full gRPC method -> (request type, checks of the decoded request)
_RULES: dict[str, tuple[type, Callable[[object], list[Check]]]] = {
    PACKAGE + method: (kind, _one_check(permission, field, on))
    for method, (kind, permission, field, on) in _ONE_CHECK.items()
} | {
    SUBSCRIBER + "CreateSubscription": (types.Subscription, _create_subscription),
    SUBSCRIBER + "Seek": (types.SeekRequest, _seek),
    SUBSCRIBER + "CreateSnapshot": (types.CreateSnapshotRequest, _create_snapshot),
}

STREAMING = {SUBSCRIBER + "StreamingPull"}  # stream-stream; every other method is unary


def known(method: str) -> bool:
    return method in _RULES


def checks(method: str, payload: bytes) -> list[Check]:
    """The checks for one call; raises ``NoRule`` for a method without a rule."""
    rule = _RULES.get(method)
    if rule is None:
        raise NoRule(f"iam gate: no rule for gRPC {method}")
    kind, judge = rule
    try:
        request = kind.deserialize(payload)  # type: ignore[attr-defined]
    except Exception as exc:  # a request the real service would reject too
        raise NoRule(f"iam gate: cannot decode {method} request: {exc}") from None
    return judge(request)
