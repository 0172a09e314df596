"""What every function entry point does around its step: decode, run, and decide.

The functions are driven by Pub/Sub push subscriptions (terraform/pubsub.tf) and read the
push envelope themselves, ``{"message": {...}, "subscription": ..., "deliveryAttempt": n}``:
functions-framework's CloudEvent conversion of a push body drops ``deliveryAttempt``, and
the rebuild lease and the lane hand-off need it to tell a redelivery from a twin.

- success: 204, so Pub/Sub acks the message;
- a message that can never succeed (it does not parse, fails its schema, names an unknown
  entity, has a reversed window): logged with its content, published to the topic's
  dead-letter topic with the reason, and acked: never retried forever, never dropped;
- a message naming a tenant the deployment's registry does not hold
  (``stkpi.tenant_contexts``), a tenant whose credentials ServiceTitan refused
  (``AuthError``: one tenant's only; its fix names its secrets), a call Google refused with PERMISSION_DENIED (a missing IAM
  grant), or a credential whose secret has no version yet
  (``stkpi.secrets.MissingSecretError``): the same, marked replayable, because retrying
  cannot help until someone adds the tenant, fixes the grant or adds the value, and the
  reason (with the command that fixes it) must reach whoever reads the
  dead letters (Pub/Sub's own dead-lettering keeps none);
- a step that cannot do its work before the delivery's deadline (``stkpi.deadline``: a
  rebuild whose turn is taken): answered 429 at once, logged as a warning, so Pub/Sub
  delivers it again after its backoff (not an error: nothing failed);
- anything else: recorded as a failed attempt and answered 500, so Pub/Sub redelivers it
  with backoff and, after the subscription's bounded attempts, dead-letters it.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from google.api_core.exceptions import Forbidden

from stkpi import deadline, logs
from stkpi.bus import attribute_value
from stkpi.context import PipelineContext
from stkpi.deadline import RetryLaterError
from stkpi.errors import PermanentError
from stkpi.messages import LoadMessage, WindowMessage, _Message, decode_push
from stkpi.secrets import MissingSecretError
from stkpi.servicetitan.errors import AuthError
from stkpi.tenant_contexts import UnknownTenantError

log = logs.get(__name__)
M = TypeVar("M", bound=_Message)

# 403s that are not about IAM: BigQuery answers quota and rate limits with 403 too.
_NOT_IAM_REASONS = {"rateLimitExceeded", "quotaExceeded", "billingTierLimitExceeded"}

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


def permission_denied(exc: BaseException) -> Forbidden | None:
    """The IAM refusal behind ``exc`` (itself or a cause), if that is what it is."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, Forbidden):
            reasons = {e.get("reason") for e in (seen.errors or []) if isinstance(e, dict)}
            if not reasons & _NOT_IAM_REASONS:
                return seen
        seen = seen.__cause__ or seen.__context__
    return None


def handle_push(
    step: str,
    model: type[M],
    envelope: Any,
    work: Callable[[M, PipelineContext], Any],
    ctx: PipelineContext,
) -> tuple[str, int]:
    """One Pub/Sub push delivery -> the HTTP answer Pub/Sub acts on (2xx acks)."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("message"), dict):
        # Not from Pub/Sub (which always sends the envelope): nothing to dead-letter.
        log.error(
            f"{step}: request is not a Pub/Sub push envelope",
            extra={"step": step, "body": repr(envelope)[:2000]},
        )
        return "expected a Pub/Sub push envelope {message, subscription, deliveryAttempt}", 400
    timeout = getattr(getattr(ctx, "settings", None), "function_timeout_seconds", None)
    token = deadline.start(timeout, getattr(ctx, "monotonic", time.monotonic))
    try:
        run_step(step, model, envelope, work, ctx)
    except RetryLaterError as exc:
        return f"{step}: {exc}; Pub/Sub will deliver it again later", 429
    except Exception as exc:  # logged and recorded by run_step
        return f"{step} failed ({type(exc).__name__}); Pub/Sub will redeliver", 500
    finally:
        deadline.reset(token)
    return "", 204


def run_step(
    step: str,
    model: type[M],
    event_data: dict[str, Any] | None,
    work: Callable[[M, PipelineContext], Any],
    ctx: PipelineContext,
) -> Any:
    try:
        msg = decode_push(model, event_data)
    except PermanentError as exc:
        _dead_letter(step, event_data, exc, ctx, None)
        return None
    ids = _ids(msg)
    try:
        ctx = tenant_context(msg, ctx)
    except UnknownTenantError as exc:
        _dead_letter(step, event_data, exc, ctx, None, replayable=True)
        return None
    except PermanentError as exc:
        _dead_letter(step, event_data, exc, ctx, None)
        return None
    except Exception as exc:  # the registry could not be read: Pub/Sub redelivers
        log.error(
            f"{step}: tenant {msg.tenant_id} could not be resolved; Pub/Sub will redeliver",
            extra={**ids, "error": f"{type(exc).__name__}: {exc}"},
        )
        raise
    token = DELIVERY_ID.set(delivery_id(event_data))
    attempt = DELIVERY_ATTEMPT.set(delivery_attempt(event_data))
    try:
        result = work(msg, ctx)
    except AuthError as exc:  # the operator fixes the credentials, then replays
        _dead_letter(step, event_data, credentials_refused(exc, ctx), ctx, msg, replayable=True)
        return None
    except PermanentError as exc:
        _dead_letter(step, event_data, exc, ctx, msg)
        return None
    except MissingSecretError as exc:
        _dead_letter(step, event_data, exc, ctx, msg, replayable=True)
        return None
    except RetryLaterError as exc:
        log.warning(
            f"{step}: not now; Pub/Sub will deliver it again", extra={**ids, "reason": str(exc)}
        )
        raise
    except Exception as exc:
        denied = permission_denied(exc)
        if denied is not None:
            _dead_letter(step, event_data, denied, ctx, msg, replayable=True)
            return None
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


class CredentialsRefusedError(PermanentError):
    """ServiceTitan refused the tenant's credentials: nothing a retry can change until
    someone puts the right values in its secrets, then a replay finishes what waited."""


def credentials_refused(exc: AuthError, ctx: PipelineContext) -> CredentialsRefusedError:
    """``exc`` with the fix: which secrets hold this tenant's credentials, how to check
    them, and the replay (its own tenant's letters only)."""
    settings = ctx.settings
    found = getattr(ctx, "tenant", None)
    tenant = found.tenant_id if found is not None else None
    names = [settings.st_secrets[e] for e in CREDENTIAL_SECRETS if e in settings.st_secrets]
    where = (
        "its secrets "
        + ", ".join(n.rsplit("/", 1)[-1] for n in names)
        + " (`gcloud secrets versions add SECRET --data-file=-`)"
        if names
        else "its settings " + ", ".join(CREDENTIAL_SECRETS)
    )
    if tenant is None:
        who, check, replay = (
            "the deployment's tenant",
            "`stkpi doctor`",
            "`stkpi dead-letters --replay`",
        )
    else:
        who = f"tenant {tenant}"
        check = f"`stkpi tenant add --tenant-id {tenant} --name NAME --time-zone ZONE` (its doctor)"
        replay = f"`stkpi dead-letters --replay --tenant {tenant}`"
    return CredentialsRefusedError(
        f"ServiceTitan refused {who}'s credentials ({exc}): put the current values in "
        f"{where}, check them with {check}, then replay what waited with {replay}"
    )


CREDENTIAL_SECRETS = ("ST_CLIENT_ID", "ST_CLIENT_SECRET", "ST_APP_KEY")


def tenant_context(msg: _Message, ctx: PipelineContext) -> PipelineContext:
    """The context of the tenant ``msg`` names: ``ctx`` itself for the default tenant."""
    return ctx if msg.tenant_id is None else ctx.for_tenant(msg.tenant_id)


def _ids(msg: _Message) -> dict[str, Any]:
    keys = ("run_id", "entity", "window_id", "tenant_id")
    return {k: getattr(msg, k) for k in keys if getattr(msg, k, None) is not None}


def _dead_letter(
    step: str,
    event_data: dict[str, Any] | None,
    exc: Exception,
    ctx: PipelineContext,
    msg: _Message | None,
    *,
    replayable: bool = False,
) -> None:
    raw = _raw_body(event_data)
    reason = f"{type(exc).__name__}: {exc}"
    what = "message can never succeed"
    if isinstance(exc, MissingSecretError):
        what = "waits for a secret"
    elif isinstance(exc, UnknownTenantError):
        what = "waits for its tenant to be added"
    elif isinstance(exc, CredentialsRefusedError):
        what = "waits for the tenant's credentials to be fixed"
    elif replayable:
        what = "refused by IAM"
    log.error(
        f"{step}: {what}; dead-lettered",
        extra={
            "event": "dead_letter",
            "step": step,
            "error": reason,
            "replayable": replayable,
            "body": raw.decode(errors="replace")[:2000],
        },
    )
    topic = ctx.settings.dead_letter_topic(source_topic(step, ctx))
    attrs = {"step": step, "error": attribute_value(reason)}
    if replayable:
        attrs["replayable"] = "true"
    ctx.bus.publish_raw(topic, raw, **attrs)
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
