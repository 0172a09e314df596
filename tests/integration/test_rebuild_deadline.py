"""A rebuild delivery ends within its function's timeout (stkpi.deadline).

rebuild_dims runs one instance that takes several deliveries at once; rebuilds take turns
in it. A delivery used to wait up to 8 minutes for its turn and 8 more for the lease inside
a 540 s timeout: Cloud Run cut the request off, Pub/Sub redelivered it, and the cut-off
thread kept its turn, so the redelivery waited behind it. Now a delivery that cannot start
in time answers 429 at once (Pub/Sub delivers it again later), and a rebuild whose
deadline passes stops at its next statement and lets go of its turn and its lease.

The lease lives on fake-gcs-server; the run's plan and ops events are stand-ins (the
rebuild's work is not what is tested), and the clock is the test's, so nothing here
depends on the machine's speed.
"""

from __future__ import annotations

import base64
import threading
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from stkpi import deadline, rebuild, runtime
from stkpi.config import load_settings
from stkpi.landing import Landing
from stkpi.messages import RebuildMessage

pytestmark = pytest.mark.integration

TIMEOUT = 540.0  # rebuild_dims's timeout (terraform/main.tf)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def ctx(gcs_emulator):
    bucket = f"rbd-{uuid.uuid4().hex[:8]}"
    gcs_emulator.client.create_bucket(bucket)
    settings = load_settings(
        {
            "ST_API_BASE_URL": "http://127.0.0.1:9",
            "ST_AUTH_URL": "http://127.0.0.1:9",
            "GCP_PROJECT": "p",
            "LANDING_BUCKET": bucket,
            "FUNCTION_TIMEOUT_SECONDS": str(TIMEOUT),
        }
    )
    events: list[str] = []
    return SimpleNamespace(
        settings=settings,
        landing=Landing(gcs_emulator.client, bucket),
        monotonic=Clock(),
        now=lambda: datetime.now(UTC),
        state=SimpleNamespace(run_event=lambda **kw: events.append(kw["state"])),
        events=events,
    )


def _envelope(run_id: str) -> dict:
    data = base64.b64encode(RebuildMessage(run_id=run_id, entities=[]).to_bytes()).decode()
    return {"message": {"data": data, "messageId": f"m-{run_id}"}, "deliveryAttempt": 1}


def test_a_delivery_that_cannot_start_in_time_answers_at_once(ctx) -> None:
    # Another run's rebuild holds the instance's turn, and this delivery arrives with less
    # than REBUILD_SECONDS before its deadline: even a turn free at once would leave too
    # little time, so it waits for nothing and answers 429 (Pub/Sub delivers it later).
    # (Before: it waited up to 8 minutes for the turn, past its 540 s timeout.)
    ctx.settings = ctx.settings.model_copy(
        update={"function_timeout_seconds": rebuild.REBUILD_SECONDS - 1}
    )
    answers: list[tuple[str, int]] = []

    def deliver() -> None:
        answers.append(
            runtime.handle_push(
                "rebuild_dims", RebuildMessage, _envelope("r-late"), rebuild.rebuild_run, ctx
            )
        )

    assert rebuild._TURN.acquire(timeout=5)
    try:
        waiter = threading.Thread(target=deliver, daemon=True)
        waiter.start()
        waiter.join(60)  # a guard only: the answer comes without any wait
        assert not waiter.is_alive(), "the delivery waited for a turn it could not use"
    finally:
        rebuild._TURN.release()
    [(body, status)] = answers
    assert status == 429 and "cannot wait" in body
    assert ctx.events == []  # nothing started


def test_a_rebuild_past_its_deadline_lets_go_of_its_turn_and_lease(ctx, monkeypatch) -> None:
    # The rebuild starts in time, then its models outlive the delivery's deadline (Cloud
    # Run has already answered Pub/Sub for it): it stops at the next statement, and the
    # turn and the lease are free at once for the redelivery.
    run_id = "r-ghost"
    plan = SimpleNamespace(run_type="daily", entity_ends={})
    monkeypatch.setattr(rebuild, "stored_plan", lambda run, landing: plan)

    def slow_models(c) -> dict:
        c.monotonic.t += TIMEOUT + 1  # the models took longer than the whole timeout
        deadline.check("dims/dim_jobs.sql")  # what stkpi.marts does before each statement
        raise AssertionError("a statement ran after the deadline")

    monkeypatch.setattr(rebuild, "build_models", slow_models)
    body, status = runtime.handle_push(
        "rebuild_dims", RebuildMessage, _envelope(run_id), rebuild.rebuild_run, ctx
    )
    assert status == 429 and "deadline passed" in body
    assert ctx.events == ["rebuild_started"]
    assert rebuild._TURN.acquire(blocking=False), "the cut-off rebuild kept its turn"
    rebuild._TURN.release()
    held, _ = ctx.landing.read_json_versioned(Landing.rebuild_lock_name(run_id))
    assert held is None, "the cut-off rebuild kept its lease"
    assert not ctx.landing.exists(Landing.rebuild_done_name(run_id))  # redone next time


def test_the_marts_check_the_deadline_before_every_statement(monkeypatch) -> None:
    from stkpi import marts
    from stkpi.kpi_config import KpiConfig

    settings = load_settings(
        {
            "ST_API_BASE_URL": "http://127.0.0.1:9",
            "ST_AUTH_URL": "http://127.0.0.1:9",
            "GCP_PROJECT": "p",
            "LANDING_BUCKET": "b-b",
        }
    )
    clock = Clock()
    ran: list[str] = []

    class Client:
        def query_and_wait(self, sql: str) -> None:
            ran.append(sql)
            clock.t += 10  # each statement takes 10 s

    token = deadline.start(15, clock)  # time for two statements' starts, not three
    try:
        with pytest.raises(deadline.DeadlineExceededError, match=r"seeds/seeds\.sql"):
            marts.build_seeds(Client(), settings, KpiConfig())
    finally:
        deadline.reset(token)
    assert len(ran) == 2  # seeds.sql has three statements; the third never started
