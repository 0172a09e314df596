"""The rebuild lease on fake-gcs-server: twins never work at once, crashes are taken over.

Found by ``stkpi chaos``: the same Pub/Sub message delivered twice at the same moment
used to let both deliveries hold the lease and rebuild (two ``rebuilt`` events).
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from stkpi import lease as lease_mod
from stkpi.landing import Landing
from stkpi.lease import LeaseBusyError, acquire

pytestmark = pytest.mark.integration


@pytest.fixture
def landing(gcs_emulator) -> Landing:
    name = f"lease-{uuid.uuid4().hex[:8]}"
    gcs_emulator.client.create_bucket(name)
    return Landing(gcs_emulator.client, name)


def _now() -> datetime:
    return datetime.now(UTC)


def test_twin_deliveries_one_works_the_other_waits_for_it(landing: Landing) -> None:
    done = threading.Event()
    working = []  # deliveries inside the critical section at once
    results: dict[str, object] = {}

    def deliver(who: str) -> None:
        got = acquire(
            landing, "lock", message_id="m1", attempt=1, done=done.is_set, now=_now,
            sleep=lambda s: time.sleep(0.05),
        )  # fmt: skip
        results[who] = got
        if got is not None:
            working.append(who)
            assert len(working) == 1, "two deliveries hold the lease at once"
            time.sleep(0.5)
            done.set()
            working.remove(who)
            got.release()

    twins = [threading.Thread(target=deliver, args=(w,)) for w in ("a", "b")]
    for t in twins:
        t.start()
    for t in twins:
        t.join(30)
    holders = [w for w, got in results.items() if got is not None]
    assert len(holders) == 1  # the other saw the work done and had nothing to do
    assert set(results) == {"a", "b"}


def test_a_redelivery_after_a_crash_takes_over_at_once(landing: Landing) -> None:
    crashed = acquire(landing, "lock", message_id="m1", attempt=1, done=lambda: False, now=_now)
    assert crashed is not None  # ... and then its process died without releasing
    again = acquire(
        landing, "lock", message_id="m1", attempt=2, done=lambda: False, now=_now,
        wait=timedelta(seconds=0),
    )  # fmt: skip
    assert again is not None
    assert landing.read_json("lock")["took_over"]["attempt"] == 1


def test_another_message_waits_then_gives_up_while_the_holder_is_alive(
    landing: Landing,
) -> None:
    holder = acquire(landing, "lock", message_id="m1", attempt=1, done=lambda: False, now=_now)
    with pytest.raises(LeaseBusyError):
        acquire(
            landing, "lock", message_id="m2", attempt=1, done=lambda: False, now=_now,
            sleep=lambda s: None, wait=timedelta(seconds=0),
        )  # fmt: skip
    assert holder is not None


def test_a_stale_heartbeat_is_taken_over(landing: Landing) -> None:
    acquire(landing, "lock", message_id="m1", attempt=1, done=lambda: False, now=_now)
    later = _now() + lease_mod.STALE + timedelta(seconds=1)
    taken = acquire(
        landing, "lock", message_id="m2", attempt=1, done=lambda: False, now=lambda: later,
        wait=timedelta(seconds=0),
    )  # fmt: skip
    assert taken is not None


def test_the_heartbeat_notices_a_takeover(
    landing: Landing, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lease_mod, "HEARTBEAT", timedelta(seconds=0.2))
    held = acquire(landing, "lock", message_id="m1", attempt=1, done=lambda: False, now=_now)
    with held:
        acquire(landing, "lock", message_id="m1", attempt=2, done=lambda: False, now=_now)
        assert held.lost.wait(5), "the old holder learns it lost the lease"


def test_a_holder_that_lost_the_lease_does_not_release_the_new_holders(
    landing: Landing,
) -> None:
    stalled = acquire(landing, "lock", message_id="m1", attempt=1, done=lambda: False, now=_now)
    successor = acquire(
        landing, "lock", message_id="m1", attempt=2, done=lambda: False, now=_now,
        wait=timedelta(seconds=0),
    )  # fmt: skip
    assert stalled is not None and successor is not None
    stalled.release()  # the stalled delivery finishes late and lets go of "its" lease
    assert landing.read_json("lock")["attempt"] == 2  # still held by the successor
    successor.release()
    assert not landing.exists("lock")
