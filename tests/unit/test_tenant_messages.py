"""Messages carry their tenant, and each step runs in the context of the tenant its message
names (docs/TENANTS.md): the default tenant's messages are what they always were, an added
tenant's reach its own datasets, landing root and credentials, and a tenant the registry
does not hold is dead-lettered with the command that adds it.

The registry is a dict here (``TenantContexts(find=...)``): what is judged is the
resolution, not BigQuery; tests/integration/test_tenant_pipeline.py runs it on the
emulators."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from stkpi import runtime
from stkpi.bus import Bus
from stkpi.config import load_settings
from stkpi.context import PipelineContext
from stkpi.errors import BadMessageError
from stkpi.messages import (
    LoadMessage,
    PlanMessage,
    RebuildMessage,
    WindowMessage,
    _Message,
    decode,
)
from stkpi.servicetitan.errors import AuthError, Target
from stkpi.tenant_contexts import TenantContexts
from stkpi.tenants import Tenant, secret_names

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T1 = datetime(2025, 2, 1, tzinfo=UTC)
MESSAGES: list[_Message] = [
    PlanMessage(run_type="backfill", start=T0, end=T1, run_id="r1"),
    WindowMessage(run_id="r1", entity="jobs", window_id="w1", start=T0, end=T1),
    LoadMessage(
        run_id="r1", entity="jobs", window_id="w1", gcs_prefix="landing/x/", pages=1, records=2
    ),
    RebuildMessage(run_id="r1", entities=["jobs"]),
]
DEPLOYMENT = {
    "ST_API_BASE_URL": "https://api.example",
    "ST_AUTH_URL": "https://auth.example",
    "GCP_PROJECT": "proj-1",
    "LANDING_BUCKET": "proj-1-st-landing",
    "ST_TENANT_ID": "1000",
    "DEAD_LETTER_TOPIC_SUFFIX": "-dead-letter",
}
ADDED = Tenant("2000", "Acme North", secret_names("proj-1", "2000"), "America/Denver", "sunday")


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_keeps_its_tenant_and_an_old_message_means_the_default(msg) -> None:
    model = type(msg)
    # absent: the bytes are those of a message from before tenants (no field written)
    assert "tenant_id" not in json.loads(msg.to_bytes())
    assert decode(model, msg.to_bytes()).tenant_id is None
    tagged = msg.model_copy(update={"tenant_id": "2000"})
    again = decode(model, tagged.to_bytes())
    assert again.tenant_id == "2000" and again == tagged
    # a hand-written message may give the id as a JSON number
    body = {**json.loads(msg.to_bytes()), "tenant_id": 2000}
    assert decode(model, json.dumps(body)).tenant_id == "2000"


@pytest.mark.parametrize("bad", ["0", "01", "-1", "2000 ", "t2000", "1" * 20, "", True, 1.5])
def test_a_tenant_id_that_is_not_servicetitans_is_refused(bad) -> None:
    body = {**json.loads(MESSAGES[3].to_bytes()), "tenant_id": bad}
    with pytest.raises(BadMessageError, match=r"tenant_id: .*numeric tenant id"):
        decode(RebuildMessage, json.dumps(body))


class _Future:
    def result(self, timeout: float | None = None) -> str:
        return "id-1"


class _Publisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def publish(self, topic: str, data: bytes, **attrs: str) -> _Future:
        self.sent.append((topic, data, attrs))
        return _Future()


def test_a_tenants_bus_stamps_its_tenant_and_refuses_another_tenants_message() -> None:
    publisher = _Publisher()
    settings = load_settings(DEPLOYMENT)
    default, tenant = Bus(publisher, settings), Bus(publisher, settings).with_tenant("2000")
    default.publish("st-windows", MESSAGES[1])
    tenant.publish("st-windows", MESSAGES[1])
    tenant.publish("st-windows", MESSAGES[1].model_copy(update={"tenant_id": "2000"}))
    sent = [json.loads(data).get("tenant_id") for _, data, _ in publisher.sent]
    assert sent == [None, "2000", "2000"]
    with pytest.raises(ValueError, match=r"tenant 2000's bus .* of tenant 3000"):
        tenant.publish("st-windows", MESSAGES[1].model_copy(update={"tenant_id": "3000"}))
    assert len(publisher.sent) == 3  # nothing went out for the wrong tenant


class _Registry:
    """The tenants registry as ``find_tenant`` reads it; counts reads."""

    def __init__(self, *tenants: Tenant) -> None:
        self.rows = {t.tenant_id: t for t in tenants}
        self.reads = 0

    def find(self, tenant_id: str) -> Tenant | None:
        self.reads += 1
        return self.rows.get(tenant_id)


def _deployment(registry: _Registry, clock: list[float]) -> PipelineContext:
    ctx = PipelineContext(load_settings(DEPLOYMENT), monotonic=lambda: clock[0])
    ctx._tenants = TenantContexts(ctx, ttl=60.0, find=registry.find)
    ctx.bus = Bus(_Publisher(), ctx.settings)
    return ctx


def test_the_default_tenant_is_the_deployments_own_context() -> None:
    registry = _Registry(ADDED)
    ctx = _deployment(registry, [0.0])
    assert ctx.for_tenant(None) is ctx
    assert ctx.for_tenant("1000") is ctx  # named explicitly: still the default tenant
    assert registry.reads == 0


def test_an_added_tenant_gets_its_own_datasets_paths_clock_and_credentials() -> None:
    registry, clock = _Registry(ADDED), [0.0]
    ctx = _deployment(registry, clock)
    tctx = ctx.for_tenant("2000")
    s = tctx.settings
    assert (s.dataset("raw"), s.dataset("ops")) == ("st_t2000_raw", "st_t2000_ops")
    assert s.landing_root == "t2000/" and ctx.settings.landing_root == ""
    assert (s.report_timezone, s.weeks_start, s.st_tenant_id) == ("America/Denver", "sunday",
                                                                  "2000")  # fmt: skip
    # its own secrets, never the deployment's values
    assert s.st_client_id is None and s.st_secrets == ADDED.secrets
    assert tctx.tenant == ADDED and tctx.deployment is ctx
    assert tctx.for_tenant(None) is ctx  # a tenant's context resolves like the deployment's
    assert tctx.bus.tenant_id == "2000" and ctx.bus.tenant_id is None


def test_a_tenants_context_is_kept_while_warm_and_a_changed_row_is_seen_after_the_ttl() -> None:
    registry, clock = _Registry(ADDED), [0.0]
    ctx = _deployment(registry, clock)
    first = ctx.for_tenant("2000")
    clock[0] = 59.0
    assert ctx.for_tenant("2000") is first and registry.reads == 1
    clock[0] = 61.0  # read again; the row is unchanged: same context (its client, bucket)
    assert ctx.for_tenant("2000") is first and registry.reads == 2
    registry.rows["2000"] = Tenant(**{**ADDED.__dict__, "time_zone": "America/Phoenix"})
    clock[0] = 122.0
    changed = ctx.for_tenant("2000")
    assert changed is not first and changed.settings.report_timezone == "America/Phoenix"


def _envelope(msg: _Message) -> dict:
    data = base64.b64encode(msg.to_bytes()).decode()
    return {"message": {"data": data, "messageId": "m-1"}, "subscription": "s"}


def test_a_step_runs_in_the_context_of_its_messages_tenant() -> None:
    ctx = _deployment(_Registry(ADDED), [0.0])
    seen = []
    msg = MESSAGES[3].model_copy(update={"tenant_id": "2000"})
    runtime.run_step("rebuild_dims", RebuildMessage, _envelope(msg), lambda m, c: seen.append(c),
                     ctx)  # fmt: skip
    runtime.run_step("rebuild_dims", RebuildMessage, _envelope(MESSAGES[3]),
                     lambda m, c: seen.append(c), ctx)  # fmt: skip
    assert [c.settings.bq_dataset_prefix for c in seen] == ["st_t2000", "st"]


def test_a_message_naming_an_unregistered_tenant_is_dead_lettered_with_the_add_command() -> None:
    ctx = _deployment(_Registry(ADDED), [0.0])
    msg = MESSAGES[0].model_copy(update={"tenant_id": "3000"})

    def work(m, c):  # pragma: no cover - must not run
        raise AssertionError("ran for a tenant nobody added")

    _body, status = runtime.handle_push("plan_windows", PlanMessage, _envelope(msg), work, ctx)
    assert status == 204  # acked: retrying cannot help until the tenant is added
    [(topic, raw, attrs)] = ctx.bus._publisher.sent
    assert topic.endswith("/topics/st-plan-dead-letter")
    assert raw == msg.to_bytes()  # the message as sent: a replay after the add finishes it
    assert attrs["replayable"] == "true"
    assert "stkpi tenant add --tenant-id 3000 " in attrs["error"]
    assert "UnknownTenantError" in attrs["error"]


def test_a_tenant_whose_credentials_are_refused_fails_alone_with_the_fix() -> None:
    # ServiceTitan's 401 on one tenant: its message is dead-lettered, replayable, with the
    # secrets to correct (its own, never the deployment's) and its own replay command
    ctx = _deployment(_Registry(ADDED), [0.0])
    msg = MESSAGES[1].model_copy(update={"tenant_id": "2000"})

    def work(m, c):
        raise AuthError(Target("jobs"), "token request refused: HTTP 401: invalid_client")

    _, status = runtime.handle_push("fetch_window", WindowMessage, _envelope(msg), work, ctx)
    assert status == 204
    [(topic, _, attrs)] = ctx.bus._publisher.sent
    assert topic.endswith("/topics/st-windows-dead-letter") and attrs["replayable"] == "true"
    error = attrs["error"]
    assert error.startswith("CredentialsRefusedError: ServiceTitan refused tenant 2000's")
    assert "st-t2000-client-id, st-t2000-client-secret, st-t2000-app-key" in error
    assert "stkpi dead-letters --replay --tenant 2000" in error
    assert "invalid_client" in error
