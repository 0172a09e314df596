"""A tiny push-driven function for local-stack tests (stands in for the pipeline's).

Each delivery appends one JSON line to ``$FN_RECORD_FILE``: the decoded message, its
attributes and id, the subscription and ``deliveryAttempt`` of the push envelope, and
when it started and ended. ``echo`` answers 204 (ack) after ``$FN_DELAY_SECONDS``;
``fail`` always answers 500 (retry, then dead letter).
"""

from __future__ import annotations

import base64
import json
import os
import time

import functions_framework


def _record(envelope: dict, outcome: str, started: float | None = None) -> dict:
    message = envelope["message"]
    line = {
        "data": base64.b64decode(message.get("data", "")).decode(),
        "attributes": message.get("attributes") or {},
        "message_id": message.get("messageId") or message.get("message_id"),
        "subscription": envelope.get("subscription"),
        "delivery_attempt": envelope.get("deliveryAttempt"),
        "outcome": outcome,
        "pid": os.getpid(),
        "started": started,
        "at": time.time(),
    }
    with open(os.environ["FN_RECORD_FILE"], "a") as fh:
        fh.write(json.dumps(line) + "\n")
    return line


@functions_framework.http
def echo(request):
    started = time.time()
    delay = float(os.environ.get("FN_DELAY_SECONDS", "0"))
    if delay:
        time.sleep(delay)
    _record(request.get_json(), "ok", started)
    return "", 204


@functions_framework.http
def fail(request):
    _record(request.get_json(), "raised")
    return "fail: always fails (test of retry and dead letter)", 500
