"""A tiny CloudEvent function for local-stack tests (stands in for the pipeline's).

Each delivery appends one JSON line to ``$FN_RECORD_FILE``: the event type, attributes
and the decoded message. ``fail`` always raises (retry, then dead letter).
"""

from __future__ import annotations

import base64
import json
import os
import time

import functions_framework


def _record(event, outcome: str, started: float | None = None) -> dict:
    message = event.data["message"]
    line = {
        "type": event["type"],
        "source": event["source"],
        "id": event["id"],
        "data": base64.b64decode(message.get("data", "")).decode(),
        "attributes": message.get("attributes") or {},
        "message_id": message.get("messageId") or message.get("message_id"),
        "subscription": event.data.get("subscription"),
        "delivery_attempt": event.data.get("deliveryAttempt"),
        "outcome": outcome,
        "pid": os.getpid(),
        "started": started,
        "at": time.time(),
    }
    with open(os.environ["FN_RECORD_FILE"], "a") as fh:
        fh.write(json.dumps(line) + "\n")
    return line


@functions_framework.cloud_event
def echo(event) -> None:
    started = time.time()
    delay = float(os.environ.get("FN_DELAY_SECONDS", "0"))
    if delay:
        time.sleep(delay)
    _record(event, "ok", started)


@functions_framework.cloud_event
def fail(event) -> None:
    _record(event, "raised")
    raise RuntimeError("fail: always raises (test of retry and dead letter)")
