"""What every function entry point does around its step: decode, run, and decide.

- success: return, so Pub/Sub acks the message;
- a message that can never succeed (it does not parse, fails its schema, names an unknown
  entity, has a reversed window): logged with its content, published to the topic's
  dead-letter topic with the reason, and acked: never retried forever, never dropped;
- anything else: recorded as a failed attempt and re-raised, so Pub/Sub redelivers it
  with backoff and, after the subscription's bounded attempts, dead-letters it.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from stkpi import logs
from stkpi.context import PipelineContext
from stkpi.errors import PermanentError
from stkpi.messages import LoadMessage, WindowMessage, _Message, decode_cloud_event

log = logs.get(__name__)
M = TypeVar("M", bound=_Message)

DEAD_LETTER_SUFFIX = "-dead"

# The Pub/Sub message id of the delivery being handled: the same on every redelivery of a
# message, different for a duplicate publish. Steps use it to recognise their own leases.
DELIVERY_ID: contextvars.ContextVar[str] = contextvars.ContextVar("delivery_id", default="")
# Which delivery of that message this is (1, 2, ...): a redelivery after a crash has a
# higher number than the delivery that crashed; twin deliveries at once share one.
DELIVERY_ATTEMPT: contextvars.ContextVar[int] = contextvars.ContextVar(
    "delivery_attempt", default=1
)


def delivery_id(event_data: dict[str, Any] | None) -> str:
    try:
        found = event_data["message"].get("messageId") or event_data["message"].get("message_id")  # type: ignore[index]
    except (KeyError, TypeError, AttributeError):
        found = None
    return str(found) if found else hashlib.sha256(repr(event_data).encode()).hexdigest()[:16]


def delivery_attempt(event_data: dict[str, Any] | None) -> int:
    try:
        return max(1, int(event_data.get("deliveryAttempt") or 1))  # type: ignore[union-attr]
    except (TypeError, ValueError, AttributeError):
        return 1


def source_topic(step: str, ctx: PipelineContext) -> str:
    s = ctx.settings
    return {
        "plan_windows": s.topic_plan,
        "fetch_window": s.topic_windows,
        "load_batch": s.topic_loads,
        "rebuild_dims": s.topic_rebuild,
    }[step]


def run_step(
    step: str,
    model: type[M],
    event_data: dict[str, Any] | None,
    work: Callable[[M, PipelineContext], Any],
    ctx: PipelineContext,
) -> Any:
    try:
        msg = decode_cloud_event(model, event_data)
    except PermanentError as exc:
        _dead_letter(step, event_data, exc, ctx, None)
        return None
    ids = _ids(msg)
    token = DELIVERY_ID.set(delivery_id(event_data))
    attempt = DELIVERY_ATTEMPT.set(delivery_attempt(event_data))
    try:
        result = work(msg, ctx)
    except PermanentError as exc:
        _dead_letter(step, event_data, exc, ctx, msg)
        return None
    except Exception as exc:
        log.error(
            f"{step} failed; Pub/Sub will redeliver",
            extra={**ids, "error": f"{type(exc).__name__}: {exc}"},
            exc_info=True,
        )
        _record_failure(msg, ctx, f"{type(exc).__name__}: {exc}", "failed")
        raise
    finally:
        DELIVERY_ID.reset(token)
        DELIVERY_ATTEMPT.reset(attempt)
    log.info(f"{step} done", extra={**ids, "result": repr(result)[:500]})
    return result


def _ids(msg: _Message) -> dict[str, Any]:
    return {k: getattr(msg, k) for k in ("run_id", "entity", "window_id") if hasattr(msg, k)}


def _dead_letter(
    step: str,
    event_data: dict[str, Any] | None,
    exc: Exception,
    ctx: PipelineContext,
    msg: _Message | None,
) -> None:
    raw = _raw_body(event_data)
    reason = f"{type(exc).__name__}: {exc}"
    log.error(
        f"{step}: message can never succeed; dead-lettered",
        extra={"step": step, "error": reason, "body": raw.decode(errors="replace")[:2000]},
    )
    topic = source_topic(step, ctx) + DEAD_LETTER_SUFFIX
    ctx.bus.publish_raw(topic, raw, step=step, error=reason[:1000])
    if msg is not None:
        _record_failure(msg, ctx, reason, "dead_lettered")


def _raw_body(event_data: dict[str, Any] | None) -> bytes:
    try:
        return base64.b64decode(event_data["message"]["data"])  # type: ignore[index]
    except Exception:
        return repr(event_data).encode()


def _record_failure(msg: _Message, ctx: PipelineContext, error: str, state: str) -> None:
    """Best effort: the failure is also in the logs, so a failing ops write must not mask
    the original error."""
    if not isinstance(msg, WindowMessage | LoadMessage):
        return
    try:
        ctx.state.window_event(
            run_id=msg.run_id,
            entity=msg.entity,
            window_id=msg.window_id,
            state=state,
            error=error,
        )
    except Exception:
        log.warning("could not record window failure", extra={"trace": traceback.format_exc()})
