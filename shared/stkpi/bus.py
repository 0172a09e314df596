"""Publishing pipeline messages to Pub/Sub (official client; the emulator via env)."""

from __future__ import annotations

from google.cloud import pubsub_v1

from stkpi.config import Settings
from stkpi.gcp import topic_path
from stkpi.messages import _Message

PUBLISH_TIMEOUT_SECONDS = 60.0


class Bus:
    """Publishes and waits for the server's ack, so a function returns (acks its own
    message) only after the next step's message is durably accepted."""

    def __init__(self, publisher: pubsub_v1.PublisherClient, settings: Settings) -> None:
        self._publisher = publisher
        self._settings = settings

    def publish(self, topic: str, message: _Message, **attributes: str) -> str:
        return self.publish_raw(topic, message.to_bytes(), **attributes)

    def publish_raw(self, topic: str, data: bytes, **attributes: str) -> str:
        future = self._publisher.publish(topic_path(self._settings, topic), data, **attributes)
        return future.result(timeout=PUBLISH_TIMEOUT_SECONDS)
