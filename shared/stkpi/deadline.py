"""A delivery's deadline: when the function's timeout cuts the request off.

Cloud Run answers a request that outlives the function's timeout with an error, and
Pub/Sub redelivers it, but the Python thread that was handling it runs on: whatever it
holds (the rebuild's in-process turn, its lease) it keeps, and the redelivery waits behind
its own ghost. So a step reads its deadline here: it starts work only if the work can
finish before it (otherwise it answers at once and Pub/Sub retries later), and long work
checks it between statements and stops, letting go of what it holds, once nobody waits
for its answer (:func:`check`).

``stkpi.runtime`` sets the deadline of each push delivery from the function's timeout
(``FUNCTION_TIMEOUT_SECONDS``, terraform/functions.tf); outside a function (the CLI, the
in-process pump) there is none and nothing is cut short.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable

from stkpi.errors import StkpiError

# (monotonic time of the deadline, the clock it is measured on), or None: no deadline
_DEADLINE: contextvars.ContextVar[tuple[float, Callable[[], float]] | None] = (
    contextvars.ContextVar("delivery_deadline", default=None)
)


class RetryLaterError(StkpiError):
    """The step cannot do its work in this delivery (the deadline is too near, or the
    work is busy elsewhere): answered at once, so Pub/Sub delivers it again later."""


class DeadlineExceededError(RetryLaterError):
    """The delivery's deadline passed mid-work: nobody waits for this answer any more."""


def start(seconds: float | None, clock: Callable[[], float] = time.monotonic) -> contextvars.Token:
    """Set the current delivery's deadline ``seconds`` from now (None: no deadline)."""
    value = None if seconds is None else (clock() + seconds, clock)
    return _DEADLINE.set(value)


def reset(token: contextvars.Token) -> None:
    _DEADLINE.reset(token)


def remaining() -> float | None:
    """Seconds left before the deadline (negative once past), or None without one."""
    value = _DEADLINE.get()
    if value is None:
        return None
    at, clock = value
    return at - clock()


def check(what: str) -> None:
    """Raise DeadlineExceededError once the deadline has passed."""
    left = remaining()
    if left is not None and left <= 0:
        raise DeadlineExceededError(f"{what}: the delivery's deadline passed {-left:.0f} s ago")
