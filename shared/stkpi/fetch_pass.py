"""Read one pass over a window: its pages, several in flight, each written as it comes.

Once the first page's count is known, so is the number of pages, and pages are independent
requests: up to ``FETCH_PAGES_IN_FLIGHT`` are asked for at once (the client's token bucket
still paces them), because an API that answers a 5,000-record page in about a second leaves
the rate limit unused with one request at a time. Memory stays bounded (invariant 5): each
page is converted and written by the thread that fetched it, nothing else is kept, and at
most ``PAGES_HELD`` parsed pages are alive in the process at once, whatever the pages in
flight and the deliveries the instance holds (``PageSlot``). Kept apart from
``stkpi.fetch``, which decides how many passes a window needs and what the step hands on.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from stkpi import logs
from stkpi.context import PipelineContext
from stkpi.crashpoints import crash_point
from stkpi.messages import WindowMessage
from stkpi.quarantine import Origin, PassKeys, check_times, key_of, not_after, quarantine_row
from stkpi.registry import Entity, record_key
from stkpi.rows import RecordError, to_row
from stkpi.servicetitan.pages import Page

# Parsed pages alive at once in one process. Parsing and converting a page is CPU work
# under the interpreter lock, so more than one converting and one waiting its turn only
# holds more records in memory (a parsed page of 5,000 records is tens of MiB) without
# going faster; the answers still arrive side by side (their bodies wait as bytes).
PAGES_HELD = 2
_PAGES = threading.BoundedSemaphore(PAGES_HELD)


class PageSlot:
    """One turn to hold a parsed page: taken when the body has arrived (``take``, from the
    client's ``before_parse``, once however often the body is resent), given back when the
    page is written or has failed (``with``), so no turn is ever kept."""

    def __init__(self, pages: threading.BoundedSemaphore = _PAGES) -> None:
        self._pages = pages
        self._held = False

    def take(self) -> None:
        if not self._held:
            self._pages.acquire()
            self._held = True

    def __enter__(self) -> PageSlot:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._held:
            self._held = False
            self._pages.release()


log = logs.get(__name__)


@dataclass
class PassRead:
    """What one invocation read of one pass over the window: its pages, the counts they
    reported and the distinct keys of their records (quarantined ones included)."""

    last_file: int
    written: int = 0
    totals: list[int] = field(default_factory=list)
    next_page: int | None = None  # the budget ran out: continue from this page
    keys: PassKeys = field(default_factory=PassKeys)
    quarantined: int = 0


def read_pass(
    msg: WindowMessage,
    entity: Entity,
    ctx: PipelineContext,
    prefix: str,
    page_from: int,
    offset: int,
    first: Page | None,
    pass_count: int | None,
    deadline: float,
    requests_end: float | None = None,
) -> PassRead:
    """Read pages ``page_from``.. of the current pass, several at once once the count
    says how many there are; stop asking for more when the budget is spent."""
    client = ctx.servicetitan
    start, end = (None, None) if entity.kind == "reference" else (msg.start, msg.end)
    size = ctx.settings.st_page_size
    out = PassRead(last_file=offset + page_from - 1)
    counting = threading.Lock()

    def write(number: int, page: Page | None = None) -> Page:
        with PageSlot() as slot:
            if page is None:
                page = client.page(
                    entity, start, end, number, before_parse=slot.take, deadline=requests_end
                )
            held: list[dict[str, Any]] = []
            rows = page_rows(msg, entity, page, offset, ctx, out.keys, held)
            written = ctx.landing.write_page(prefix, offset + page.number, rows)
            ctx.state.quarantine(held)
        with counting:
            out.written += written
            out.quarantined += len(held)
        crash_point("fetch.after_page", page=page.number, entity=entity.name, tenant=msg.tenant_id)
        return page

    def record(page: Page) -> None:
        out.last_file = max(out.last_file, offset + page.number)
        if page.total_count is not None:
            out.totals.append(page.total_count)

    number = page_from
    if first is not None:
        record(write(number, first))
        if not first.has_more:
            return out
        number += 1
    # Without a count the number of pages is unknown: one page at a time, as listed.
    in_flight = ctx.settings.fetch_pages_in_flight if pass_count is not None else 1
    last = math.ceil(pass_count / size) if pass_count is not None else None
    pending: dict[Future[Page], int] = {}
    more = True  # the highest page read so far said there are more
    highest = 0
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="page") as pool:
        try:
            while True:
                while len(pending) < in_flight and more and (last is None or number <= last):
                    if ctx.monotonic() > deadline and out.last_file >= offset + page_from:
                        out.next_page = number  # budget spent after at least one page
                        break
                    pending[pool.submit(write, number)] = number
                    number += 1
                    if last is None:
                        break  # unknown length: wait for this page's has_more
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    pending.pop(future)
                    page = future.result()
                    record(page)
                    if page.number >= highest:
                        highest, more = page.number, page.has_more
                if out.next_page is not None:
                    continue  # drain what is in flight, then continue elsewhere
                if last is not None and number > last and more and not pending:
                    last = None  # the count was low: read on one page at a time
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    if out.next_page is not None and not more and out.next_page > highest:
        out.next_page = None  # the last page came back meanwhile: nothing to continue
    return out


def page_rows(
    msg: WindowMessage,
    entity: Entity,
    page: Page,
    offset: int,
    ctx: PipelineContext,
    keys: PassKeys,
    held: list[dict[str, Any]],
) -> Iterator[dict[str, Any]]:
    """The page's rows, one at a time, each record released once converted: a page of
    5,000 records is then never held twice (records and rows) while it is written. A record
    that cannot be stored goes to ``held`` (``st_ops.quarantine`` rows) instead; every
    record's key goes to ``keys``."""
    ingested_at = ctx.now()
    # In the future of the tenant's clock (ServiceTitan's; the simulator's locally), not the
    # machine's: a simulated tenant may stand at any date.
    latest = not_after(ctx.tenant_now(), ctx.settings.future_tolerance_hours)
    origin = Origin(msg.run_id, entity.name, msg.window_id, msg.start, msg.end, bool(msg.scan))
    single = entity.key[0] if len(entity.key) == 1 else None
    records = page.records
    for i, record in enumerate(records):
        records[i] = None  # type: ignore[call-overload]
        try:
            row = to_row(
                entity,
                record,
                run_id=msg.run_id,
                window_id=msg.window_id,
                page=offset + page.number,
                ingested_at=ingested_at,
                screen=page.lenient,
            )
            check_times(entity, row, latest)
        except RecordError as exc:
            key = key_of(entity, record)
            keys.add(key, quarantined=True)
            held.append(
                quarantine_row(origin, offset + page.number, record, key, str(exc), ingested_at)
            )
            log.warning(
                "record quarantined",
                extra={"run_id": msg.run_id, "entity": entity.name, "window_id": msg.window_id,
                       "page": page.number, "record_key": key, "reason": str(exc)[:300]},
            )  # fmt: skip
            continue
        keys.add(str(row[single]) if single else record_key(entity, record))
        yield row
