"""Run the pipeline's steps in this process, fed by Pub/Sub pull subscriptions.

The same messages, subscriptions, retry policies and dead-letter topics as the deployed
functions, without function servers: a step that returns is acked, one that raises is
nacked, so the emulator redelivers it with backoff and dead-letters it after the bounded
attempts. Tests use it to inject faults at exact lines (``stkpi.crashpoints``) and to
drive redeliveries deterministically; ``concurrency`` > 1 runs deliveries at once, as
several function instances would.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from google.cloud import pubsub_v1

from stkpi import logs, runtime
from stkpi.context import PipelineContext
from stkpi.deadletters import settle
from stkpi.errors import StkpiError
from stkpi.steps import STEPS

log = logs.get(__name__)


class PumpTimeoutError(StkpiError):
    """The awaited condition did not come true in time."""


@dataclass
class PumpStats:
    delivered: Counter = field(default_factory=Counter)
    acked: Counter = field(default_factory=Counter)
    nacked: Counter = field(default_factory=Counter)


class InProcessPump:
    def __init__(
        self,
        ctx: PipelineContext,
        subscriptions: dict[str, str],
        *,
        concurrency: int = 1,
        batch: int = 10,
    ) -> None:
        """``subscriptions`` maps function name (``fetch_window``...) to a pull
        subscription path on that function's trigger topic."""
        self.ctx = ctx
        self.subscriptions = subscriptions
        self.concurrency = concurrency
        self.batch = batch
        self.stats = PumpStats()
        self._subscriber = pubsub_v1.SubscriberClient()

    def close(self) -> None:
        self._subscriber.close()

    def run_until(self, done: Callable[[], bool], *, timeout: float = 300.0) -> PumpStats:
        """Deliver messages until ``done()`` is true; raises ``PumpTimeoutError``."""
        deadline = time.monotonic() + timeout
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            while True:
                if done():
                    return self.stats
                if time.monotonic() > deadline:
                    raise PumpTimeoutError(f"pipeline not done after {timeout:.0f}s: {self.stats}")
                moved = 0
                for fn, sub in self.subscriptions.items():
                    resp = self._subscriber.pull(
                        # An empty pull would otherwise block ~10 s on the emulator.
                        request={
                            "subscription": sub,
                            "max_messages": self.batch,
                            "return_immediately": True,
                        },
                        timeout=10,
                    )
                    received = list(resp.received_messages)
                    moved += len(received)
                    list(pool.map(lambda m, fn=fn, sub=sub: self._deliver(fn, sub, m), received))
                if not moved:
                    time.sleep(0.2)

    def run_until_idle(self, *, idle_seconds: float = 3.0, timeout: float = 300.0) -> PumpStats:
        """Deliver messages until none arrived for ``idle_seconds``."""
        last = [time.monotonic()]
        before = [sum(self.stats.delivered.values())]

        def idle() -> bool:
            now_delivered = sum(self.stats.delivered.values())
            if now_delivered != before[0]:
                before[0] = now_delivered
                last[0] = time.monotonic()
            return time.monotonic() - last[0] > idle_seconds

        return self.run_until(idle, timeout=timeout)

    def _deliver(self, fn: str, sub: str, received) -> None:
        model, work = STEPS[fn]
        message = received.message
        event_data = {
            "message": {
                "data": base64.b64encode(message.data).decode(),
                "messageId": message.message_id,
                "attributes": dict(message.attributes),
            },
            "subscription": sub,
            "deliveryAttempt": received.delivery_attempt or 1,
        }
        self.stats.delivered[fn] += 1
        try:
            runtime.run_step(fn, model, event_data, work, self.ctx)
        except Exception:
            self.stats.nacked[fn] += 1
            settle(self._subscriber, sub, [received.ack_id], ack=False)
            return
        self.stats.acked[fn] += 1
        settle(self._subscriber, sub, [received.ack_id], ack=True)
