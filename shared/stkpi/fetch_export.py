"""Fetch one export window: follow an entity's export feed from a token to its end.

ServiceTitan's export endpoints (``export/<resource>``) are a change feed: every record
in ``modifiedOn`` order, active, inactive and deleted, each answer ending with the
``continueFrom`` token to resume after it (``from`` is inclusive: the boundary record is
read again, and the MERGE makes that a no-op). The registry says which runs read an
entity's export (``Entity.export_runs``, docs/EXPORTS.md); the planner gives such a window
the token the entity's last export ended on, or a date to start from (the spec's "custom
date strings, e.g. 2020-01-01").

Unlike a list window, an export window is one sequential chain: its pages cannot be asked
for side by side, it never splits by count and needs no second pass (a feed has no
offset to shift: a record edited while it is read comes again later in the same feed).
It keeps the list window's other guarantees: every page is written as it arrives (bounded
memory, invariant 5), pages have deterministic names, and near its time budget the window
republishes itself with the token it reached (invariant 6), so a feed of any length
finishes. The manifest records the token the feed ended on; the run's rebuild stores it
in ``st_ops.sync_state`` for the entity's next export (``stkpi.state``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from stkpi import logs
from stkpi.context import PipelineContext
from stkpi.crashpoints import crash_point
from stkpi.fetch_handoff import continue_window
from stkpi.fetch_pass import page_rows
from stkpi.messages import WindowMessage
from stkpi.quarantine import PassKeys
from stkpi.registry import Entity
from stkpi.servicetitan import RequestRejectedError
from stkpi.servicetitan.pages import Page

log = logs.get(__name__)
_DATE = re.compile(r"\d{4}-\d\d-\d\d")


@dataclass
class ExportRead:
    """What one invocation read of an export window."""

    last_file: int  # the last page file written
    written: int = 0  # records written by this call
    token: str | None = None  # where the feed stands
    continuation: WindowMessage | None = None  # the budget ran out: continue with this
    keys: PassKeys = field(default_factory=PassKeys)  # quarantined ones among them
    quarantined: int = 0


def read_export(
    msg: WindowMessage,
    entity: Entity,
    ctx: PipelineContext,
    prefix: str,
    deadline: float,
    requests_end: float,
) -> ExportRead:
    """Write the window's export pages from ``msg.continue_from`` on, each record screened
    and a record that cannot be stored quarantined (``stkpi.quarantine``) as a list page's
    are, until the feed's end or the budget ``deadline`` (then ``continuation`` says where
    to go on). Every request and its retries end by ``requests_end`` (``stkpi.fetch``)."""
    out = ExportRead(last_file=msg.page_offset, token=msg.continue_from)
    try:
        batches = ctx.servicetitan.iter_export(
            entity, out.token, recent_changes=True, deadline=requests_end
        )
        for batch in batches:
            out.last_file += 1
            page = Page(out.last_file, batch.records, batch.has_more, lenient=batch.lenient)
            held: list[dict[str, Any]] = []
            rows = page_rows(msg, entity, page, 0, ctx, out.keys, held)
            out.written += ctx.landing.write_page(prefix, out.last_file, rows)
            ctx.state.quarantine(held)
            out.quarantined += len(held)
            crash_point("fetch.after_page", page=out.last_file, entity=entity.name)
            out.token = batch.continue_from or out.token
            if batch.has_more and ctx.monotonic() > deadline:
                out.continuation = msg.model_copy(
                    update={"continue_from": out.token, "page_offset": out.last_file}
                )
                return out
    except RequestRejectedError as exc:
        since = msg.start.date().isoformat()
        token = out.token
        if exc.status != 400 or token is None or _DATE.fullmatch(token) or token == since:
            raise
        # A token the API no longer takes (ServiceTitan does not say how long one lives):
        # start the feed again from the window's start date; what is read twice is
        # merged once. The pages already written stay and the next ones number on.
        log.warning(
            "export token refused; reading the feed again from the window's start date",
            extra={"run_id": msg.run_id, "entity": msg.entity, "window_id": msg.window_id,
                   "since": since, "error": str(exc)},
        )  # fmt: skip
        retry = msg.model_copy(update={"continue_from": since, "page_offset": out.last_file})
        again = read_export(retry, entity, ctx, prefix, deadline, requests_end)
        again.written += out.written
        again.quarantined += out.quarantined
        again.keys.update(out.keys)
        return again
    return out


def continue_export(
    msg: WindowMessage, cont: WindowMessage, ctx: PipelineContext, started: float, last: int
) -> None:
    """Republish the export window from the token it reached, in a fresh invocation."""
    continue_window(msg, cont, ctx, started, last, 1)
    log.info(
        "export continued",
        extra={"run_id": msg.run_id, "entity": msg.entity, "window_id": msg.window_id,
               "pages": last},
    )  # fmt: skip
