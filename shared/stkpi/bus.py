"""Publishing pipeline messages to Pub/Sub (official client; the emulator via env)."""

from __future__ import annotations

from google.cloud import pubsub_v1

from stkpi.config import Settings
from stkpi.gcp import topic_path
from stkpi.messages import _Message

PUBLISH_TIMEOUT_SECONDS = 60.0


class Bus:
    """Publishes and waits for the server's ack, so a function returns (acks its own
    message) only after the next step's message is durably accepted.

    A tenant's bus (``tenant_id``: an added tenant's context, stkpi.context) stamps the
    tenant on every message it publishes, so the next step runs for the same tenant
    whichever step published it; the default tenant's leaves messages as they are."""

    def __init__(
        self,
        publisher: pubsub_v1.PublisherClient,
        settings: Settings,
        tenant_id: str | None = None,
    ) -> None:
        self._publisher = publisher
        self._settings = settings
        self.tenant_id = tenant_id

    def publish(self, topic: str, message: _Message, **attributes: str) -> str:
        return self.publish_raw(topic, self.stamped(message).to_bytes(), **attributes)

    def stamped(self, message: _Message) -> _Message:
        """``message`` as this bus sends it: with its tenant. A message naming another
        tenant is a bug that would run one tenant's work in another's datasets."""
        if self.tenant_id is None or message.tenant_id == self.tenant_id:
            return message
        if message.tenant_id is not None:
            raise ValueError(
                f"tenant {self.tenant_id}'s bus was asked to publish a message of tenant "
                f"{message.tenant_id}"
            )
        return message.model_copy(update={"tenant_id": self.tenant_id})

    def with_tenant(self, tenant_id: str) -> Bus:
        """The same publisher (one connection pool per process), stamping ``tenant_id``."""
        return Bus(self._publisher, self._settings, tenant_id)

    def publish_raw(self, topic: str, data: bytes, **attributes: str) -> str:
        future = self._publisher.publish(topic_path(self._settings, topic), data, **attributes)
        return future.result(timeout=PUBLISH_TIMEOUT_SECONDS)


# Pub/Sub's limits on a message attribute, in UTF-8 bytes.
ATTRIBUTE_VALUE_BYTES = 1024
ATTRIBUTE_KEY_BYTES = 256


def attribute_value(text: str, limit: int = ATTRIBUTE_VALUE_BYTES) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character: Pub/Sub
    refuses a longer attribute, and a reason cut to 1,000 *characters* of accented or
    emoji text is up to 4,000 bytes (the publish failed, and the dead letter with it)."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "..."
