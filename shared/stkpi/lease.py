"""A lease in the landing bucket: one delivery at a time does a run's rebuild.

Pub/Sub delivers at least once, which includes the same message twice at the same moment
(same message id, same attempt number) and a redelivery after the holder crashed (same
id, higher attempt). The lease names the delivery that holds it (message id, attempt, a
random token) and carries a heartbeat the holder refreshes while it works. Every change
is a compare-and-swap on the object's generation, so of two deliveries racing exactly
one wins. A delivery that finds the lease:
- held by an earlier attempt of its own message: the holder crashed; it takes over now;
- held with a fresh heartbeat: it waits (the holder may still fail) until the work is
  done (then it has nothing to do) or the heartbeat goes stale (then it takes over);
- held with a stale heartbeat: it takes over.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from stkpi import logs
from stkpi.deadline import RetryLaterError
from stkpi.landing import Landing

log = logs.get(__name__)

HEARTBEAT = timedelta(seconds=10)
STALE = timedelta(seconds=60)
WAIT = timedelta(minutes=8)  # under the function timeout; then Pub/Sub redelivers


class LeaseBusyError(RetryLaterError):
    """The lease stayed held (and alive) elsewhere for as long as this delivery may wait;
    raised so Pub/Sub redelivers later."""


@dataclass
class Lease:
    landing: Landing
    name: str
    doc: dict
    generation: int
    now: Callable[[], datetime]
    lost: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Lease:
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT.total_seconds()):
            doc = {**self.doc, "at": self.now().isoformat()}
            try:
                generation = self.landing.write_json_if(self.name, doc, generation=self.generation)
                if not generation:
                    log.error("rebuild lease taken over by another delivery", extra={"lease": doc})
                    self.lost.set()
                    return
                self.generation = generation
            except Exception:  # a missed beat only shortens the lease; the next one retries
                log.warning("lease heartbeat failed", exc_info=True)

    def release(self) -> None:
        """Give the lease up, unless another delivery has taken it over meanwhile.

        The delete is conditional on the generation read with our token, so a takeover
        between the read and the delete wins on GCS. (fake-gcs-server ignores that
        condition on delete, docs/EMULATOR_GAPS.md; the token check still covers a
        takeover that happened before the read.)"""
        self._stop.set()
        held, generation = self.landing.read_json_versioned(self.name)
        if held is not None and held.get("token") == self.doc["token"]:
            self.landing.delete(self.name, generation=generation)


def acquire(
    landing: Landing,
    name: str,
    *,
    message_id: str,
    attempt: int,
    done: Callable[[], bool],
    now: Callable[[], datetime],
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    wait: timedelta = WAIT,
) -> Lease | None:
    """The lease, or None once ``done()`` says the work is finished (by the holder)."""
    me = {"message": message_id, "attempt": attempt, "token": uuid.uuid4().hex}
    deadline = monotonic() + wait.total_seconds()
    while True:
        if done():
            return None
        held, generation = landing.read_json_versioned(name)
        mine = {**me, "at": now().isoformat()}
        if held is None:
            won = landing.write_json_if(name, mine, generation=0)
            if won:
                return Lease(landing, name, mine, won, now)
            continue
        if _takeover(held, me, now()):
            won = landing.write_json_if(name, {**mine, "took_over": held}, generation=generation)
            if won:
                log.warning("rebuild lease taken over", extra={"from": held, "to": me})
                return Lease(landing, name, mine, won, now)
            continue
        if monotonic() > deadline:
            raise LeaseBusyError(f"{name} held by {held} for over {wait}")
        sleep(2.0)


def _takeover(held: dict, me: dict, now: datetime) -> bool:
    if held.get("message") == me["message"] and int(held.get("attempt") or 0) < me["attempt"]:
        return True  # the earlier delivery of this very message failed
    try:
        beat = datetime.fromisoformat(held["at"])
    except (KeyError, TypeError, ValueError):
        return True  # unreadable lease: nobody can be relying on it
    return now - beat > STALE
