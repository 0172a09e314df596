"""Dead letters: read them, and send the retryable ones back once the cause is fixed.

Two kinds reach a topic's dead-letter topic (terraform/pubsub.tf names them):
- messages that can never succeed (they do not parse, name an unknown entity, have a
  reversed window): ``stkpi.runtime`` publishes them with ``step`` and ``error``
  attributes. Replaying them would only dead-letter them again, so they stay for a person
  to read unless ``include_permanent``; those refused by IAM carry ``replayable`` too:
  once the grant is fixed, a replay finishes them;
- messages that failed every delivery attempt (the API kept failing, a bug): Pub/Sub moved
  them there unchanged. Once the cause is fixed, replaying them to their topic finishes
  their run (its rebuild fires when the last window loads): nothing is lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from google.cloud import pubsub_v1

from stkpi.config import Settings
from stkpi.gcp import topic_path

PULL_BATCH = 100


EMPTY_PULLS = 3  # an immediate pull may come back empty while messages wait


def pull_waiting(subscriber: pubsub_v1.SubscriberClient, path: str) -> list:
    """Every message waiting on a subscription, leased to this caller (not acked).

    A ``return_immediately`` pull may answer empty although messages are waiting (Pub/Sub
    documents it; the emulator does it right after a message was released), so only
    ``EMPTY_PULLS`` empty answers in a row, a moment apart, mean "nothing waiting"."""
    got: list = []
    empty = 0
    while empty < EMPTY_PULLS:
        resp = subscriber.pull(
            request={"subscription": path, "max_messages": PULL_BATCH, "return_immediately": True},
            timeout=30,
        )
        if resp.received_messages:
            got.extend(resp.received_messages)
            empty = 0
        else:
            empty += 1
            time.sleep(0.1 * empty)
    return got


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


def count_dead_letters(
    settings: Settings, *, ack: bool = True, select: Select | None = None
) -> dict[str, int]:
    """Messages waiting on each pipeline topic's dead-letter subscription (consumed when
    ``ack``), by topic; with ``select``, only those it accepts (one tenant's: the others
    are left waiting, never consumed)."""
    subscriber = pubsub_v1.SubscriberClient()
    paths = {
        topic: subscriber.subscription_path(
            settings.gcp_project, settings.dead_letter_subscription(topic)
        )
        for topic in settings.pipeline_topics
    }

    def count(topic: str) -> int:
        waiting = pull_waiting(subscriber, paths[topic])
        if select is not None:
            others = [m for m in waiting if not select(_dead_letter(topic, m))]
            settle(subscriber, paths[topic], [m.ack_id for m in others], ack=False)
            waiting = [m for m in waiting if m not in others]
        settle(subscriber, paths[topic], [m.ack_id for m in waiting], ack=ack)
        return len(waiting)

    try:
        # Side by side: "nothing waiting" takes EMPTY_PULLS spaced pulls per queue, so
        # one queue after another cost ~0.6 s each for nothing (checked after every chaos
        # scenario and by `stkpi status`). The client is safe to share between threads.
        with ThreadPoolExecutor(max_workers=max(1, len(paths))) as pool:
            return dict(zip(paths, pool.map(count, paths), strict=True))
    finally:
        subscriber.close()


@dataclass(frozen=True)
class DeadLetter:
    topic: str  # the topic it was meant for
    message_id: str
    permanent: bool
    reason: str
    data: bytes = field(repr=False)
    attributes: dict[str, str] = field(default_factory=dict)

    def _retry_kind(self) -> str:
        if self.attributes.get("replayable") != "true":
            return "attempts exhausted"
        if self.reason.startswith("UnknownTenantError"):
            return "tenant not added (replay once `stkpi tenant add` ran)"
        if self.reason.startswith("CredentialsRefusedError"):
            return "credentials refused (replay once they are fixed)"
        if self.reason.startswith("MissingSecretError"):
            return "waits for a secret (replay once it has a version)"
        return "refused by IAM (replay once the grant is fixed)"

    @property
    def tenant_id(self) -> str | None:
        """The tenant the message names (None: the default tenant, or not a JSON object)."""
        try:
            found = json.loads(self.data).get("tenant_id")
        except (ValueError, AttributeError):
            return None
        return None if found is None else str(found)

    def summary(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "message_id": self.message_id,
            "tenant_id": self.tenant_id,
            "kind": "can never succeed" if self.permanent else self._retry_kind(),
            "reason": self.reason,
            "body": self.data.decode(errors="replace")[:300],
        }


def _dead_letter(topic: str, received: Any) -> DeadLetter:
    msg = received.message
    attrs = dict(msg.attributes)
    permanent = "error" in attrs and attrs.get("replayable") != "true"
    reason = attrs.get("error") or "failed every delivery attempt (see the function logs)"
    return DeadLetter(topic, msg.message_id, permanent, reason, bytes(msg.data), attrs)


Select = Callable[[DeadLetter], bool]


def of_tenant(tenant_id: str, default_tenant_id: str | None) -> Select:
    """The dead letters of one tenant: those naming it, and for the deployment's default
    tenant also those naming none (docs/TENANTS.md)."""
    default = tenant_id == default_tenant_id

    def select(letter: DeadLetter) -> bool:
        return letter.tenant_id == tenant_id or (default and letter.tenant_id is None)

    return select


def list_dead_letters(settings: Settings, select: Select | None = None) -> list[DeadLetter]:
    """Every dead letter of every pipeline topic (``select``: those it accepts); they stay
    where they are."""
    return _sweep(settings, replay=False, include_permanent=False, select=select)[0]


def replay_dead_letters(
    settings: Settings, *, include_permanent: bool = False, select: Select | None = None
) -> tuple[list[DeadLetter], list[DeadLetter]]:
    """Republish dead letters (``select``: those it accepts; the others are neither
    replayed nor listed) to their topics and ack them; returns (replayed, kept).

    A message is acked only after its republish is accepted, so a failure half-way
    leaves the rest in the dead-letter queue (and at worst one copy twice, which the
    pipeline's idempotent steps absorb)."""
    return _sweep(settings, replay=True, include_permanent=include_permanent, select=select)


def _sweep(
    settings: Settings, *, replay: bool, include_permanent: bool, select: Select | None = None
) -> tuple[list[DeadLetter], list[DeadLetter]]:
    project = settings.gcp_project
    subscriber = pubsub_v1.SubscriberClient()
    publisher = pubsub_v1.PublisherClient() if replay else None
    replayed: list[DeadLetter] = []
    kept: list[DeadLetter] = []
    try:
        for topic in settings.pipeline_topics:
            path = subscriber.subscription_path(project, settings.dead_letter_subscription(topic))
            received = pull_waiting(subscriber, path)
            done, leave = [], []
            for item in received:
                letter = _dead_letter(topic, item)
                if select is not None and not select(letter):
                    leave.append(item.ack_id)  # another tenant's: not this sweep's
                elif publisher is not None and (include_permanent or not letter.permanent):
                    attrs = {
                        k: v
                        for k, v in letter.attributes.items()
                        if k not in ("error", "step", "replayable")
                    }
                    publisher.publish(topic_path(settings, topic), letter.data, **attrs).result(60)
                    replayed.append(letter)
                    done.append(item.ack_id)
                else:
                    kept.append(letter)
                    leave.append(item.ack_id)
            settle(subscriber, path, done, ack=True)
            settle(subscriber, path, leave, ack=False)
    finally:
        subscriber.close()
        if publisher is not None:
            publisher.transport.close()
    return (replayed, kept) if replay else (kept, [])
