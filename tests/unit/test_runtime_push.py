"""A push delivery -> the HTTP answer Pub/Sub acts on; IAM refusals are recognised."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest
from google.api_core.exceptions import Forbidden, PermissionDenied

from stkpi import runtime
from stkpi.config import load_settings
from stkpi.errors import PermanentError
from stkpi.messages import PlanMessage

PLAN = PlanMessage(run_type="daily")


def _envelope(msg: PlanMessage, attempt: int = 3) -> dict:
    data = base64.b64encode(msg.to_bytes()).decode()
    return {
        "message": {"data": data, "messageId": "m-7"},
        "subscription": "s",
        "deliveryAttempt": attempt,
    }


def test_a_delivery_that_succeeds_is_acked_and_sees_its_id_and_attempt() -> None:
    seen = {}

    def work(msg, ctx):
        seen.update(msg=msg, id=runtime.DELIVERY_ID.get(), attempt=runtime.DELIVERY_ATTEMPT.get())

    body, status = runtime.handle_push("plan_windows", PlanMessage, _envelope(PLAN), work, None)
    assert (body, status) == ("", 204)
    # the attempt is the envelope's deliveryAttempt: what tells a redelivery from a twin
    assert seen == {"msg": PLAN, "id": "m-7", "attempt": 3}


def test_a_delivery_that_fails_is_answered_500_so_pubsub_redelivers() -> None:
    def work(msg, ctx):
        raise RuntimeError("BigQuery hiccup")

    body, status = runtime.handle_push("plan_windows", PlanMessage, _envelope(PLAN), work, None)
    assert status == 500 and "RuntimeError" in body


@pytest.mark.parametrize("envelope", [None, "text", {"data": "x"}, {"message": "x"}])
def test_a_request_that_is_not_a_push_envelope_is_refused_with_400(envelope) -> None:
    def work(msg, ctx):  # pragma: no cover - must not run
        raise AssertionError("work ran for a non-envelope")

    _, status = runtime.handle_push("plan_windows", PlanMessage, envelope, work, None)
    assert status == 400


def test_iam_refusals_are_told_apart_from_bigquery_quota_403s() -> None:
    denied = Forbidden("x@y does not have storage.objects.create access")
    assert runtime.permission_denied(denied) is denied
    grpc_denied = PermissionDenied("User not authorized to perform this action.")
    assert runtime.permission_denied(grpc_denied) is grpc_denied
    wrapped = RuntimeError("upload failed")
    wrapped.__cause__ = denied
    assert runtime.permission_denied(wrapped) is denied
    quota = Forbidden("Exceeded rate limits", errors=[{"reason": "rateLimitExceeded"}])
    assert runtime.permission_denied(quota) is None
    assert runtime.permission_denied(RuntimeError("other")) is None


class _Bus:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, dict[str, str]]] = []

    def publish_raw(self, topic: str, raw: bytes, **attrs: str) -> None:
        self.published.append((topic, raw, attrs))


@pytest.mark.parametrize("char", ["é", "🚫", "x"])
def test_a_dead_letters_reason_is_cut_to_pubsubs_attribute_bytes_not_characters(char) -> None:
    # Pub/Sub refuses an attribute value over 1,024 bytes of UTF-8, and with it the dead
    # letter: 1,000 characters of "é" are 2,000 bytes. 1,200 of any of these is over 1,024.
    ctx = SimpleNamespace(
        settings=load_settings(
            {
                "ST_API_BASE_URL": "https://api.example",
                "ST_AUTH_URL": "https://auth.example",
                "GCP_PROJECT": "p",
                "LANDING_BUCKET": "p-st-landing",
                "DEAD_LETTER_TOPIC_SUFFIX": "-dead-letter",
            }
        ),
        bus=_Bus(),
    )

    def work(msg, c):
        raise PermanentError(char * 1200)

    _, status = runtime.handle_push("plan_windows", PlanMessage, _envelope(PLAN), work, ctx)
    assert status == 204  # acked: dead-lettered, not retried
    [(_, raw, attrs)] = ctx.bus.published
    assert raw == PLAN.to_bytes()
    error = attrs["error"]
    assert len(error.encode("utf-8")) <= 1024 < len(f"PermanentError: {char * 1200}".encode())
    assert error.startswith(f"PermanentError: {char * 10}") and error.endswith("...")
