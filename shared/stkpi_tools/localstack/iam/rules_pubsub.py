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

PUBLISHER = "/google.pubsub.v1.Publisher/"
SUBSCRIBER = "/google.pubsub.v1.Subscriber/"


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


def _consume(req: object) -> list[Check]:
    return [("pubsub.subscriptions.consume", _subscription(req.subscription))]  # type: ignore[attr-defined]


def _create_subscription(req: types.Subscription) -> list[Check]:
    proj = _project_of(req.name, "subscriptions")
    return [
        ("pubsub.subscriptions.create", proj),
        ("pubsub.topics.attachSubscription", _topic(req.topic)),
    ]


def _seek(req: types.SeekRequest) -> list[Check]:
    out = _consume(req)
    if req.snapshot:
        _project_of(req.snapshot, "snapshots")
        out.append(("pubsub.snapshots.seek", req.snapshot))
    return out


def _create_snapshot(req: types.CreateSnapshotRequest) -> list[Check]:
    return [
        ("pubsub.snapshots.create", _project_of(req.name, "snapshots")),
        ("pubsub.subscriptions.consume", _subscription(req.subscription)),
    ]


# method -> (request type, checks of the decoded request)
_RULES: dict[str, tuple[type, Callable[[object], list[Check]]]] = {
    PUBLISHER + "CreateTopic": (
        types.Topic,
        lambda r: [("pubsub.topics.create", _project_of(r.name, "topics"))],
    ),
    PUBLISHER + "UpdateTopic": (
        types.UpdateTopicRequest,
        lambda r: [("pubsub.topics.update", _topic(r.topic.name))],
    ),
    PUBLISHER + "Publish": (
        types.PublishRequest,
        lambda r: [("pubsub.topics.publish", _topic(r.topic))],
    ),
    PUBLISHER + "GetTopic": (
        types.GetTopicRequest,
        lambda r: [("pubsub.topics.get", _topic(r.topic))],
    ),
    PUBLISHER + "ListTopics": (
        types.ListTopicsRequest,
        lambda r: [("pubsub.topics.list", r.project)],
    ),
    PUBLISHER + "ListTopicSubscriptions": (
        types.ListTopicSubscriptionsRequest,
        lambda r: [("pubsub.topics.get", _topic(r.topic))],
    ),
    PUBLISHER + "ListTopicSnapshots": (
        types.ListTopicSnapshotsRequest,
        lambda r: [("pubsub.topics.get", _topic(r.topic))],
    ),
    PUBLISHER + "DeleteTopic": (
        types.DeleteTopicRequest,
        lambda r: [("pubsub.topics.delete", _topic(r.topic))],
    ),
    SUBSCRIBER + "CreateSubscription": (types.Subscription, _create_subscription),
    SUBSCRIBER + "GetSubscription": (
        types.GetSubscriptionRequest,
        lambda r: [("pubsub.subscriptions.get", _subscription(r.subscription))],
    ),
    SUBSCRIBER + "UpdateSubscription": (
        types.UpdateSubscriptionRequest,
        lambda r: [("pubsub.subscriptions.update", _subscription(r.subscription.name))],
    ),
    SUBSCRIBER + "ListSubscriptions": (
        types.ListSubscriptionsRequest,
        lambda r: [("pubsub.subscriptions.list", r.project)],
    ),
    SUBSCRIBER + "DeleteSubscription": (
        types.DeleteSubscriptionRequest,
        lambda r: [("pubsub.subscriptions.delete", _subscription(r.subscription))],
    ),
    SUBSCRIBER + "ModifyPushConfig": (
        types.ModifyPushConfigRequest,
        lambda r: [("pubsub.subscriptions.update", _subscription(r.subscription))],
    ),
    SUBSCRIBER + "ModifyAckDeadline": (types.ModifyAckDeadlineRequest, _consume),
    SUBSCRIBER + "Acknowledge": (types.AcknowledgeRequest, _consume),
    SUBSCRIBER + "Pull": (types.PullRequest, _consume),
    SUBSCRIBER + "StreamingPull": (types.StreamingPullRequest, _consume),
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
    if method.endswith(("/ListTopics", "/ListSubscriptions")):
        proj = request.project
        if not proj.startswith("projects/") or proj.count("/") != 1:
            raise NoRule(f"iam gate: {proj!r} is not a project name (projects/P)")
    return judge(request)
