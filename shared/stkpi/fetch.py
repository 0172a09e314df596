"""Fetch one window: stream its pages from ServiceTitan to the landing bucket.

Sized by count. The first page's ``totalCount`` says how many records the window holds; a
window above ``WINDOW_TARGET_PAGES`` full pages does not page on but splits into children
and passes its lane to them (``stkpi.splits``, ``stkpi.lanes``). Only this step talks to
ServiceTitan, so only it can know a window's size.

Pages in flight. Once the count is known, so is the number of pages, and pages are
independent requests: up to ``FETCH_PAGES_IN_FLIGHT`` are asked for at once (the client's
token bucket still paces them), because an API that answers a 5,000-record page in about a
second leaves the rate limit unused with one request at a time. Memory stays bounded by
that many pages (invariant 5): each page is converted and written by the thread that
fetched it, and nothing else is kept.

Time budget: before asking for another page the step checks its budget and, when near it,
waits for the pages in flight and republishes the window with ``page_from`` so the rest
continues in a fresh invocation (invariant 6); pages already written stay.

Skipped records. Offset paging over a result set that shrinks while it is read skips
records: when a record on an earlier page is edited its ``modifiedOn`` leaves the window,
everything behind it moves up one place, and one record slides from the next page onto a
page already read. Windows always end at or before the plan time, so during a fetch records
can leave a window but never enter it: its count can only fall. A pass over the window is
therefore complete when every page of it reported the count the pass began with (nothing
left between the first answer and the last, whatever order they came in); otherwise the
window is read again (another pass, pages numbered on from the last) until a pass sees a
stable count. Records that left the window are fetched by the next run, whose window
covers their new ``modifiedOn``. Repeats are harmless: the MERGE dedupes.

Key scans (``msg.scan``, stkpi.key_scan) take this same path with windows by createdOn,
which no edit changes: their counts fall only when records are deleted mid-scan, and a
window is done only once a pass saw a stable count, so a scan never stages a window that
was still shrinking under it.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from stkpi import logs
from stkpi.context import PipelineContext
from stkpi.crashpoints import crash_point
from stkpi.errors import StkpiError
from stkpi.landing import Landing, WindowRef, page_name, window_prefix
from stkpi.lanes import hand_off, wake_idle_lanes
from stkpi.messages import LoadMessage, WindowMessage
from stkpi.registry import Entity, get_entity
from stkpi.rows import RecordError, to_row
from stkpi.runwindows import RunWindows, stored_plan
from stkpi.servicetitan.pages import Page
from stkpi.splits import split

log = logs.get(__name__)
MAX_PASSES = 4


class UnstableWindowError(StkpiError):
    """The window kept changing for MAX_PASSES passes; the step fails and is retried."""


class PageError(StkpiError):
    """A page from the API could not be turned into rows (bad record shape)."""


@dataclass(frozen=True)
class FetchOutcome:
    status: str  # "fetched" | "continued" | "split"
    pages: int
    records: int
    passes: int
    load: LoadMessage | None = None
    continuation: WindowMessage | None = None
    children: int = 0


@dataclass
class _Pass:
    """What one invocation read of one pass over the window."""

    last_file: int
    written: int = 0
    totals: list[int] = field(default_factory=list)
    next_page: int | None = None  # the budget ran out: continue from this page


def fetch_window(msg: WindowMessage, ctx: PipelineContext) -> FetchOutcome:
    entity = get_entity(msg.entity)
    if msg.scan:  # a key scan's window is by createdOn: its records never leave it on edit
        entity = entity.for_key_scan()
    settings = ctx.settings
    client = ctx.servicetitan
    started = ctx.monotonic()
    deadline = started + settings.fetch_time_budget_seconds
    prefix = window_prefix(entity.name, msg.run_id, msg.window_id)
    start, end = (None, None) if entity.kind == "reference" else (msg.start, msg.end)
    fresh = msg.page_from == 1 and msg.pass_no == 1
    splittable = fresh and entity.window_params is not None

    if splittable and ctx.landing.exists(_split_name(msg)):
        return _hand_on_split(msg, ctx, started)  # an earlier delivery split it

    pass_no = msg.pass_no
    pass_count = msg.pass_count
    offset = msg.page_offset
    page_from = msg.page_from
    last_file = offset + page_from - 1
    written_this_call = 0

    while True:
        first = client.page(entity, start, end, page_from) if page_from == 1 else None
        if first is not None and pass_count is None:
            pass_count = first.total_count
        if first is not None and splittable and pass_no == 1 and first.total_count is not None:
            target = (
                msg.target_pages * settings.st_page_size
                if msg.target_pages
                else settings.window_target_records
            )
            children = split(msg, first.total_count, target)
            if children:
                return _split(msg, children, first.total_count, ctx, started)
        read = _read_pass(msg, entity, ctx, prefix, page_from, offset, first, pass_count, deadline)
        last_file = max(last_file, read.last_file)
        written_this_call += read.written
        if read.next_page is not None:
            cont = msg.model_copy(
                update={
                    "page_from": read.next_page,
                    "pass_no": pass_no,
                    "pass_count": pass_count,
                    "page_offset": offset,
                }
            )
            return _continue(msg, cont, ctx, started, last_file, written_this_call, pass_no)
        if entity.kind == "reference" or pass_count is None:
            break
        count_after = min(read.totals) if read.totals else None
        if count_after is None:  # the server stopped reporting counts: ask once
            count_after = client.window_count(entity, start, end)
        if count_after == pass_count and all(t == pass_count for t in read.totals):
            break
        if pass_no >= MAX_PASSES:
            raise UnstableWindowError(
                f"{entity.name} window {msg.window_id} changed during {pass_no} passes "
                f"(count {pass_count} -> {count_after}); will retry"
            )
        log.info(
            "window changed while paging; reading it again",
            extra={
                "run_id": msg.run_id,
                "entity": entity.name,
                "window_id": msg.window_id,
                "count_before": pass_count,
                "count_after": count_after,
            },
        )
        pass_no += 1
        pass_count = count_after
        offset = last_file
        page_from = 1

    crash_point("fetch.after_pages")
    load = _finish(msg, ctx.landing, prefix, last_file, pass_no)
    crash_point("fetch.before_publish")
    ctx.bus.publish(settings.topic_loads, load)
    _window_event(
        msg,
        ctx,
        started,
        "fetched",
        pages=load.pages,
        records=load.records,
        detail={"passes": pass_no},
    )
    return FetchOutcome("fetched", load.pages, load.records, pass_no, load, None)


def _read_pass(
    msg: WindowMessage,
    entity: Entity,
    ctx: PipelineContext,
    prefix: str,
    page_from: int,
    offset: int,
    first: Page | None,
    pass_count: int | None,
    deadline: float,
) -> _Pass:
    """Read pages ``page_from``.. of the current pass, several at once once the count
    says how many there are; stop asking for more when the budget is spent."""
    client = ctx.servicetitan
    start, end = (None, None) if entity.kind == "reference" else (msg.start, msg.end)
    size = ctx.settings.st_page_size
    out = _Pass(last_file=offset + page_from - 1)
    counting = threading.Lock()

    def write(number: int, page: Page | None = None) -> Page:
        page = page or client.page(entity, start, end, number)
        rows = _rows(msg, entity, page, offset, ctx)
        written = ctx.landing.write_page(prefix, offset + page.number, rows)
        with counting:
            out.written += written
        crash_point("fetch.after_page", page=page.number, entity=entity.name)
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


def _rows(
    msg: WindowMessage, entity: Entity, page: Page, offset: int, ctx: PipelineContext
) -> Iterator[dict[str, Any]]:
    """The page's rows, one at a time, each record released once converted: a page of
    5,000 records is then never held twice (records and rows) while it is written."""
    ingested_at = ctx.now()
    records = page.records
    for i, record in enumerate(records):
        records[i] = None  # type: ignore[call-overload]
        try:
            yield to_row(
                entity,
                record,
                run_id=msg.run_id,
                window_id=msg.window_id,
                page=offset + page.number,
                ingested_at=ingested_at,
            )
        except RecordError as exc:
            raise PageError(
                f"{entity.name} window {msg.window_id} page {page.number}: {exc}"
            ) from None


def _continue(
    msg: WindowMessage,
    cont: WindowMessage,
    ctx: PipelineContext,
    started: float,
    last_file: int,
    written: int,
    pass_no: int,
) -> FetchOutcome:
    ctx.bus.publish(ctx.settings.topic_windows, cont)
    _window_event(
        msg,
        ctx,
        started,
        "continued",
        pages=last_file,
        detail={"next_page": cont.page_from, "pass": pass_no},
    )
    log.info(
        "window continued",
        extra={
            "run_id": msg.run_id,
            "entity": msg.entity,
            "window_id": msg.window_id,
            "next_page": cont.page_from,
        },
    )
    return FetchOutcome("continued", last_file, written, pass_no, None, cont)


def _window_event(
    msg: WindowMessage, ctx: PipelineContext, started: float, state: str, **fields: Any
) -> None:
    """The window's ``state`` in st_ops.window_events, timed from ``started``."""
    ctx.state.window_event(
        run_id=msg.run_id,
        entity=msg.entity,
        window_id=msg.window_id,
        state=state,
        start=msg.start,
        end=msg.end,
        duration_ms=int((ctx.monotonic() - started) * 1000),
        **fields,
    )


def _split_name(msg: WindowMessage) -> str:
    return Landing.control_name(msg.run_id, "split", WindowRef(msg.entity, msg.window_id))


def _split(
    msg: WindowMessage,
    children: list[WindowMessage],
    count: int,
    ctx: PipelineContext,
    started: float,
) -> FetchOutcome:
    """Record the split (first writer wins: a twin that counted differently hands on the
    recorded children, not its own) and pass the lane to the children."""
    ctx.landing.create_json_once(
        _split_name(msg),
        {
            "count": count,
            "children": [c.model_dump(mode="json", exclude_none=True) for c in children],
        },
    )
    log.info(
        "window split by count",
        extra={
            "run_id": msg.run_id,
            "entity": msg.entity,
            "window_id": msg.window_id,
            "count": count,
            "children": len(children),
        },
    )
    crash_point("fetch.after_split_record")
    return _hand_on_split(msg, ctx, started, count)


def _hand_on_split(
    msg: WindowMessage, ctx: PipelineContext, started: float, count: int | None = None
) -> FetchOutcome:
    run = RunWindows.read(stored_plan(msg.run_id, ctx.landing), ctx.landing)
    ref = WindowRef(msg.entity, msg.window_id)
    children = run.splits.get(ref.marker, ())
    if run.plan.lanes is None:  # a plan without lanes publishes every window at once
        for child in children:
            ctx.bus.publish(ctx.settings.topic_windows, child)
    else:
        hand_off(run, ref, ctx)
        wake_idle_lanes(run, ref, ctx)
    _window_event(msg, ctx, started, "split", records=count, detail={"children": len(children)})
    return FetchOutcome("split", 0, 0, 1, children=len(children))


def _finish(
    msg: WindowMessage, landing: Landing, prefix: str, last_file: int, passes: int
) -> LoadMessage:
    """Write the window manifest listing exactly pages 1..last_file of this fetch.

    Pages numbered beyond ``last_file`` (left by an earlier, longer attempt) are not listed
    and so never loaded. The content hash includes each object's generation, so a window
    re-fetched with new data gets a new load job id, and an unchanged one reuses its job.
    """
    found = landing.page_objects(prefix)
    missing = [n for n in range(1, last_file + 1) if n not in found]
    if missing:
        raise StkpiError(f"window {msg.window_id}: page files missing from landing: {missing[:10]}")
    pages = [found[n] for n in range(1, last_file + 1)]
    records = sum(p.records for p in pages)
    digest = hashlib.sha256(
        "\n".join(f"{p.name}@{p.generation}" for p in pages).encode()
    ).hexdigest()
    landing.write_json(
        Landing.manifest_name(prefix),
        {
            "run_id": msg.run_id,
            "entity": msg.entity,
            "window_id": msg.window_id,
            "start": msg.start.isoformat(),
            "end": msg.end.isoformat(),
            "pages": [page_name(prefix, n) for n in range(1, last_file + 1)],
            "records": records,
            "passes": passes,
            "content_hash": digest,
        },
    )
    return LoadMessage(
        run_id=msg.run_id,
        entity=msg.entity,
        window_id=msg.window_id,
        gcs_prefix=prefix,
        pages=last_file,
        records=records,
    )
