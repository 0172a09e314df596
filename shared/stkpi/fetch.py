"""Fetch one window: stream its pages from ServiceTitan to the landing bucket.

Bounded memory: one page is held at a time (invariant 5). Time budget: before each page the
step checks its budget and, when near it, republishes the window with ``page_from`` so the
rest continues in a fresh invocation (invariant 6); pages already written stay.

Skipped records. Offset paging over a result set that shrinks while it is read skips
records: when a record on an earlier page is edited its ``modifiedOn`` leaves the window,
everything behind it moves up one place, and one record slides from the next page onto a
page already read. Windows always end at or before the plan time, so during a fetch records
can leave a window but never enter it. A pass over the window is therefore complete when the
window's total count is the same before and after it (nothing left, so nothing moved); when
the count changed, the window is read again (another pass, pages numbered on from the last)
until a pass sees a stable count. Records that left the window are fetched by the next run,
whose window covers their new ``modifiedOn``. Repeats are harmless: the MERGE dedupes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from stkpi import logs
from stkpi.context import PipelineContext
from stkpi.crashpoints import crash_point
from stkpi.errors import StkpiError
from stkpi.landing import Landing, page_name, window_prefix
from stkpi.messages import LoadMessage, WindowMessage
from stkpi.registry import get_entity
from stkpi.rows import RecordError, to_row

log = logs.get(__name__)
MAX_PASSES = 4


class UnstableWindowError(StkpiError):
    """The window kept changing for MAX_PASSES passes; the step fails and is retried."""


class PageError(StkpiError):
    """A page from the API could not be turned into rows (bad record shape)."""


@dataclass(frozen=True)
class FetchOutcome:
    status: str  # "fetched" | "continued"
    pages: int
    records: int
    passes: int
    load: LoadMessage | None = None
    continuation: WindowMessage | None = None


def fetch_window(msg: WindowMessage, ctx: PipelineContext) -> FetchOutcome:
    entity = get_entity(msg.entity)
    settings = ctx.settings
    client = ctx.servicetitan
    landing = ctx.landing
    started = ctx.monotonic()
    deadline = started + settings.fetch_time_budget_seconds
    prefix = window_prefix(entity.name, msg.run_id, msg.window_id)
    ingested_at = ctx.now()
    start, end = (None, None) if entity.kind == "reference" else (msg.start, msg.end)

    pass_no = msg.pass_no
    pass_count = msg.pass_count
    offset = msg.page_offset
    page_from = msg.page_from
    last_file = offset + page_from - 1
    written_this_call = 0

    while True:
        last_total: int | None = None
        for page in client.iter_pages(entity, start, end, page_from=page_from):
            # Counts ride on the pages: the pass's first page gives the count before
            # paging, its last page the count after.
            if pass_count is None:
                pass_count = page.total_count
            last_total = page.total_count
            try:
                rows = [
                    to_row(
                        entity,
                        record,
                        run_id=msg.run_id,
                        window_id=msg.window_id,
                        page=offset + page.number,
                        ingested_at=ingested_at,
                    )
                    for record in page.records
                ]
            except RecordError as exc:
                raise PageError(
                    f"{entity.name} window {msg.window_id} page {page.number}: {exc}"
                ) from None
            last_file = offset + page.number
            written_this_call += landing.write_page(prefix, last_file, rows)
            crash_point("fetch.after_page", page=page.number, entity=entity.name)
            if page.has_more and ctx.monotonic() > deadline:
                cont = msg.model_copy(
                    update={
                        "page_from": page.number + 1,
                        "pass_no": pass_no,
                        "pass_count": pass_count,
                        "page_offset": offset,
                    }
                )
                ctx.bus.publish(settings.topic_windows, cont)
                ctx.state.window_event(
                    run_id=msg.run_id,
                    entity=entity.name,
                    window_id=msg.window_id,
                    state="continued",
                    start=msg.start,
                    end=msg.end,
                    pages=last_file,
                    duration_ms=int((ctx.monotonic() - started) * 1000),
                    detail={"next_page": page.number + 1, "pass": pass_no},
                )
                log.info(
                    "window continued",
                    extra={
                        "run_id": msg.run_id,
                        "entity": entity.name,
                        "window_id": msg.window_id,
                        "next_page": page.number + 1,
                    },
                )
                return FetchOutcome("continued", last_file, written_this_call, pass_no, None, cont)
        if entity.kind == "reference" or pass_count is None:
            break
        count_after = last_total
        if count_after is None:  # the server stopped reporting counts: ask once
            count_after = client.window_count(entity, start, end)
        if count_after == pass_count:
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
    load = _finish(msg, landing, prefix, last_file, pass_no)
    crash_point("fetch.before_publish")
    ctx.bus.publish(settings.topic_loads, load)
    duration_ms = int((ctx.monotonic() - started) * 1000)
    ctx.state.window_event(
        run_id=msg.run_id,
        entity=entity.name,
        window_id=msg.window_id,
        state="fetched",
        start=msg.start,
        end=msg.end,
        pages=load.pages,
        records=load.records,
        duration_ms=duration_ms,
        detail={"passes": pass_no},
    )
    return FetchOutcome("fetched", load.pages, load.records, pass_no, load, None)


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
