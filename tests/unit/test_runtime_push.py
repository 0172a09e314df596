"""A push delivery -> the HTTP answer Pub/Sub acts on; IAM refusals are recognised."""

from __future__ import annotations

import base64

import pytest
from google.api_core.exceptions import Forbidden, PermissionDenied

from stkpi import runtime
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
