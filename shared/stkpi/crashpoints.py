"""Named crash points for fault-injection tests of the running functions.

When ``STKPI_CRASH_FILE`` names a file, each line of it arms one crash point (e.g.
``fetch.after_pages``); the first process to pass an armed point removes its line and raises
``InjectedCrash`` right there, as a real crash would, so tests can prove that Pub/Sub
redelivery recovers. Tests arm points while the stack runs by writing the file. Without the
variable (always, in production) a crash point costs one environment lookup.
"""

from __future__ import annotations

import fcntl
import os


class InjectedCrash(RuntimeError):
    """Raised at an armed crash point."""


def crash_point(name: str) -> None:
    path = os.environ.get("STKPI_CRASH_FILE")
    if not path or not os.path.exists(path):
        return
    with open(path, "r+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        armed = [ln.strip() for ln in fh if ln.strip()]
        if name not in armed:
            return
        armed.remove(name)
        fh.seek(0)
        fh.truncate()
        fh.write("".join(f"{ln}\n" for ln in armed))
    raise InjectedCrash(f"injected crash at {name}")
