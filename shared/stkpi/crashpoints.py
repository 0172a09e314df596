"""Named crash points for fault-injection tests of the running functions.

When ``STKPI_CRASH_FILE`` names a file, each line of it arms one crash point::

    fetch.after_page                 raise InjectedCrash at the next page written
    kill load.after_merge            SIGKILL this process between MERGE and marker
    kill fetch.after_page page=2     ... only when the context matches (page 2)

The first process to pass an armed point removes its line and crashes right there: an
exception (the function fails, as on any bug) or SIGKILL (the instance dies mid-request,
as when Cloud Run kills it), so tests can prove Pub/Sub redelivery recovers. Tests arm
points while the stack runs by writing the file. Without the variable (always, in
production) a crash point costs one environment lookup.
"""

from __future__ import annotations

import fcntl
import os
import signal
from dataclasses import dataclass


class InjectedCrash(RuntimeError):
    """Raised at an armed crash point."""


@dataclass(frozen=True)
class ArmedPoint:
    """One line of the crash file."""

    name: str
    action: str = "raise"  # raise | kill
    when: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, line: str) -> ArmedPoint:
        words = line.split()
        action = "raise"
        if words and words[0] in ("raise", "kill"):
            action, words = words[0], words[1:]
        if not words:
            raise ValueError(f"crash file line {line!r} names no crash point")
        conditions = []
        for word in words[1:]:
            key, sep, value = word.partition("=")
            if not sep:
                raise ValueError(f"crash file line {line!r}: {word!r} is not key=value")
            conditions.append((key, value))
        return cls(words[0], action, tuple(conditions))

    def matches(self, name: str, context: dict[str, object]) -> bool:
        return self.name == name and all(str(context.get(k)) == v for k, v in self.when)


def crash_point(name: str, **context: object) -> None:
    """Crash here if an armed line names this point (and its conditions hold)."""
    path = os.environ.get("STKPI_CRASH_FILE")
    if not path or not os.path.exists(path):
        return
    with open(path, "r+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        lines = [ln.strip() for ln in fh if ln.strip()]
        armed = [(ln, ArmedPoint.parse(ln)) for ln in lines]
        hit = next(((ln, point) for ln, point in armed if point.matches(name, context)), None)
        if hit is None:
            return
        lines.remove(hit[0])
        fh.seek(0)
        fh.truncate()
        fh.write("".join(f"{ln}\n" for ln in lines))
        fh.flush()
        os.fsync(fh.fileno())
    if hit[1].action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise InjectedCrash(f"injected crash at {name}")
