"""Fetch one window: stream its pages from ServiceTitan to the landing bucket.

Sized by count. The first page's ``totalCount`` says how many records the window holds; a
window above ``WINDOW_TARGET_PAGES`` full pages does not page on but splits into children
and passes its lane to them (``stkpi.splits``, ``stkpi.lanes``). Only this step talks to
ServiceTitan, so only it can know a window's size.

Pages in flight: several pages of a pass are asked for at once and each is written by the
thread that fetched it (``stkpi.fetch_pass``).

Time budget: before asking for another page the step checks its budget and, when near it,
waits for the pages in flight and republishes the window with ``page_from`` so the rest
continues in a fresh invocation (invariant 6, ``stkpi.fetch_handoff``); pages already
written stay.

Skipped records. Offset paging over a result set that shrinks while it is read skips
records: when a record on an earlier page is edited its ``modifiedOn`` leaves the window,
everything behind it moves up one place, and one record slides from the next page onto a
page already read. Windows always end at or before the plan time, so during a fetch records
can leave a window but never enter it: its count can only fall. A pass over the window is
therefore complete when every page of it reported the count the pass began with (nothing
left between the first answer and the last, whatever order they came in) *and* the
distinct keys it read add up to that count: a page short of its records while the count
stays, a record served twice in place of another, ``hasMore: false`` too soon all read
fewer keys than counted (a quarantined record counts as read, ``stkpi.quarantine``).
Otherwise the window is read again (another pass, pages numbered on from the last) until a
pass adds up, at most ``MAX_PASSES`` times before the step fails and Pub/Sub retries it.
Reference lists are counted the same way; an answer without any count is accepted when two
passes in a row read the same keys. Records that left the window are fetched by the next
run, whose window covers their new ``modifiedOn``. Repeats are harmless: the MERGE dedupes.
Every request and its retries end within a request timeout after the budget
(``requests_end``), before the function's timeout.

Export windows (``msg.export``: an entity's change feed, docs/EXPORTS.md) are read by
``stkpi.fetch_export``: one chain of answers, no count, no split, no second pass, the same
pages, manifest and time budget.

Key scans (``msg.scan``, stkpi.key_scan) take this same path with windows by createdOn,
which no edit changes: their counts fall only when records are deleted mid-scan, and a
window is done only once a pass saw a stable count, so a scan never stages a window that
was still shrinking under it.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from stkpi import deadline as delivery_deadline
from stkpi import logs
from stkpi.context import PipelineContext
from stkpi.crashpoints import crash_point
from stkpi.errors import StkpiError
from stkpi.fetch_export import continue_export, read_export
from stkpi.fetch_handoff import (
    continue_window,
    hand_on_split,
    record_split,
    split_name,
    window_event,
)
from stkpi.fetch_pass import read_pass
from stkpi.landing import Landing, page_name, window_prefix
from stkpi.messages import LoadMessage, WindowMessage
from stkpi.quarantine import PassKeys
from stkpi.registry import get_entity
from stkpi.splits import split

log = logs.get(__name__)
MAX_PASSES = 4


class UnstableWindowError(StkpiError):
    """The window kept changing for MAX_PASSES passes; the step fails and is retried."""


@dataclass(frozen=True)
class FetchOutcome:
    status: str  # "fetched" | "continued" | "split"
    pages: int
    records: int
    passes: int
    load: LoadMessage | None = None
    continuation: WindowMessage | None = None
    children: int = 0


def fetch_window(msg: WindowMessage, ctx: PipelineContext) -> FetchOutcome:
    entity = get_entity(msg.entity)
    if msg.scan:  # a key scan's window is by createdOn: its records never leave it on edit
        entity = entity.for_key_scan()
    settings = ctx.settings
    client = ctx.servicetitan
    started = ctx.monotonic()
    deadline = started + settings.fetch_time_budget_seconds
    # Pages are asked for until the budget; each request and its retries end within a
    # request timeout after it, before the function's timeout (terraform holds budget +
    # request timeout under it: tests/terraform), and before the delivery's own deadline
    # when the runtime set one (stkpi.deadline).
    requests_end = deadline + settings.st_request_timeout_seconds
    left = delivery_deadline.remaining()
    if left is not None:
        requests_end = min(requests_end, started + left)
    prefix = window_prefix(entity.name, msg.run_id, msg.window_id)
    start, end = (None, None) if entity.kind == "reference" else (msg.start, msg.end)
    if msg.export:
        return _fetch_export(msg, ctx, prefix, started, deadline, requests_end)
    fresh = msg.page_from == 1 and msg.pass_no == 1
    splittable = fresh and entity.window_params is not None

    if splittable and ctx.landing.exists(split_name(msg)):
        handed = hand_on_split(msg, ctx, started)  # an earlier delivery split it
        return FetchOutcome("split", 0, 0, 1, children=handed)

    pass_no = msg.pass_no
    pass_count = msg.pass_count
    offset = msg.page_offset
    page_from = msg.page_from
    last_file = offset + page_from - 1
    written_this_call = 0
    quarantined = 0
    kept = list(msg.pass_keys or [])  # keys of this pass kept by the deliveries before
    previous: PassKeys | None = None  # the pass before, when the API gives no count

    while True:
        first = (
            client.page(entity, start, end, page_from, deadline=requests_end)
            if page_from == 1
            else None
        )
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
                handed = record_split(msg, children, first.total_count, ctx, started)
                return FetchOutcome("split", 0, 0, 1, children=handed)
        read = read_pass(
            msg, entity, ctx, prefix, page_from, offset, first, pass_count, deadline, requests_end
        )
        last_file = max(last_file, read.last_file)
        written_this_call += read.written
        if read.next_page is not None:
            cont = msg.model_copy(
                update={
                    "page_from": read.next_page,
                    "pass_no": pass_no,
                    "pass_count": pass_count,
                    "page_offset": offset,
                    "pass_keys": [*kept, save_pass_keys(ctx.landing, prefix, read.keys)],
                }
            )
            continue_window(msg, cont, ctx, started, last_file, pass_no)
            return FetchOutcome("continued", last_file, written_this_call, pass_no, None, cont)
        seen = read.keys
        if kept:  # the pass began in earlier deliveries: their keys count too
            seen.update(load_pass_keys(ctx.landing, kept))
        quarantined += read.quarantined
        if pass_count is None:
            # The API gave no count: accepted when two passes in a row read the same keys.
            if previous is not None and (previous.keys, previous.unkeyed) == (
                seen.keys,
                seen.unkeyed,
            ):
                break
            previous = seen
            count_after, why = None, f"no count from the API: pass {pass_no} read {seen.distinct}"
        else:
            count_after = min(read.totals) if read.totals else None
            if count_after is None:  # the server stopped reporting counts: ask once
                count_after = client.window_count(entity, start, end, deadline=requests_end)
            stable = count_after == pass_count and all(t == pass_count for t in read.totals)
            if stable and seen.distinct == pass_count:
                break
            why = (
                f"count {pass_count} -> {count_after}"
                if not stable
                else f"read {seen.distinct} distinct records of the {pass_count} counted"
            )
        if pass_no >= MAX_PASSES:
            raise UnstableWindowError(
                f"{entity.name} window {msg.window_id} did not add up in {pass_no} passes "
                f"({why}); will retry"
            )
        log.info(
            "window did not add up; reading it again",
            extra={
                "run_id": msg.run_id,
                "entity": entity.name,
                "window_id": msg.window_id,
                "count_before": pass_count,
                "count_after": count_after,
                "distinct_read": seen.distinct,
                "why": why,
            },
        )
        pass_no += 1
        pass_count = count_after
        offset = last_file
        page_from = 1
        kept = []

    return _publish(
        msg, ctx, prefix, started, last_file, pass_no, pass_count, seen.held, quarantined
    )


def _fetch_export(
    msg: WindowMessage,
    ctx: PipelineContext,
    prefix: str,
    started: float,
    deadline: float,
    requests_end: float,
) -> FetchOutcome:
    """An export window: the feed to its end, or to the budget and a continuation."""
    entity = get_entity(msg.entity)
    read = read_export(msg, entity, ctx, prefix, deadline, requests_end)
    if read.continuation is not None:
        continue_export(msg, read.continuation, ctx, started, read.last_file)
        return FetchOutcome("continued", read.last_file, read.written, 1, None, read.continuation)
    return _publish(msg, ctx, prefix, started, read.last_file, 1, None, read.keys.held,
                    read.quarantined, continue_from=read.token)  # fmt: skip


def _publish(
    msg: WindowMessage,
    ctx: PipelineContext,
    prefix: str,
    started: float,
    last_file: int,
    passes: int,
    count: int | None,
    held: set[str],
    quarantined: int,
    continue_from: str | None = None,
) -> FetchOutcome:
    """The window is fetched: write its manifest, hand it to the loaders, record it."""
    crash_point("fetch.after_pages")
    load = _finish(msg, ctx.landing, prefix, last_file, passes, count, held, continue_from)
    crash_point("fetch.before_publish")
    ctx.bus.publish(ctx.settings.topic_loads, load)
    window_event(
        msg,
        ctx,
        started,
        "fetched",
        pages=load.pages,
        records=load.records,
        detail={
            "passes": passes,
            "count": count,
            "quarantined": quarantined,
            **({"export": True} if msg.export else {}),
        },
    )
    return FetchOutcome("fetched", load.pages, load.records, passes, load, None)


def save_pass_keys(landing: Landing, prefix: str, keys: PassKeys) -> str:
    """Keep the keys a pass read so far for the delivery that continues it (a fetch that
    neared its time budget); the object's name, carried by the continuation message. Named
    afresh each time, so a redelivered window never counts another attempt's keys."""
    name = f"{prefix}keys/{uuid.uuid4().hex}.json"
    landing.write_json(name, keys.to_doc())
    return name


def load_pass_keys(landing: Landing, names: list[str]) -> PassKeys:
    """The keys the deliveries before kept (``save_pass_keys``)."""
    return PassKeys.from_docs(landing.read_json(name) or {} for name in names)


def _finish(
    msg: WindowMessage,
    landing: Landing,
    prefix: str,
    last_file: int,
    passes: int,
    count: int | None,
    held: set[str],
    continue_from: str | None = None,
) -> LoadMessage:
    """Write the window manifest listing exactly pages 1..last_file of this fetch (and, for
    an export window, the token its feed ended on: ``continue_from``).

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
            "count": count,  # the records ServiceTitan counted, which the last pass read
            # ... of which these were quarantined (read, but not in the pages): a key scan
            # counts them as seen, so a bad record is never taken for a delete
            "quarantined_keys": sorted(held),
            "content_hash": digest,
            **({"continue_from": continue_from} if continue_from else {}),
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
