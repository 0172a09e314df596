"""Per-stage figures of one run, from its rows in ``st_ops`` (pure: no services here).

The rows are every ``window_events`` and ``run_events`` row of the run (``events.sql``);
the aggregation is Python so it can be tested on fixture rows and follow the pipeline's
event vocabulary as it changes:

- fetch: ``fetched`` windows, ``split`` windows (a window above its target size reads its
  first page and splits into children instead of paging; 0 while no fetch splits), and
  ``continued`` passes; busy time is the sum of their durations.
- load: one load job per ``loaded`` window with records; busy time is the load job part
  (``detail.load_ms``) when the event has it, else the event's whole duration.
- merge: one ``entity_merged`` run event per MERGE when the pipeline batches MERGEs per
  entity (duration = MERGE busy time, records = rows merged, windows = windows in it);
  otherwise one MERGE per loaded window with records (``detail.merge_ms``).
- rebuild: the ``rebuilt`` run event's duration.

A redelivered window writes its events again: the latest per window and state counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

FETCH_STATES = ("fetched", "split", "continued")


def _detail(row: Mapping[str, Any]) -> dict[str, Any]:
    raw = row.get("detail")
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return int(value or 0)


def latest_per_window(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The latest row per (entity, window, state): a redelivered window counts once."""
    latest: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for row in rows:
        key = (str(row["entity"]), str(row["window_id"]), str(row["state"]))
        held = latest.get(key)
        if held is None or row["event_time"] >= held["event_time"]:
            latest[key] = row
    return list(latest.values())


def _span(rows: list[Mapping[str, Any]]) -> float:
    """Seconds from the first row's start (event time - duration) to the last row's end."""
    if not rows:
        return 0.0
    starts = [_start(r) for r in rows]
    ends: list[datetime] = [r["event_time"] for r in rows]
    return max(0.0, (max(ends) - min(starts)).total_seconds())


def _start(row: Mapping[str, Any]) -> datetime:
    return row["event_time"] - timedelta(milliseconds=_int(row.get("duration_ms")))


def _per_second(amount: float, seconds: float) -> float:
    return round(amount / seconds, 1) if seconds > 0 else 0.0


def fetch_figures(
    rows: list[Mapping[str, Any]], *, requests: int, ceiling: float
) -> dict[str, Any]:
    by_state = {s: [r for r in rows if r["state"] == s] for s in FETCH_STATES}
    fetched = by_state["fetched"]
    work = [r for s in FETCH_STATES for r in by_state[s]]
    records = sum(_int(r.get("records")) for r in fetched)
    span = _span(work)
    rate = _per_second(records, span)
    return {
        "windows": len(fetched),
        "windows_split": len(by_state["split"]),
        "continued": len(by_state["continued"]),
        "pages": sum(_int(r.get("pages")) for r in fetched),
        "records": records,
        "requests": requests,
        "records_per_request": round(records / requests, 1) if requests else 0.0,
        "busy_seconds": round(sum(_int(r.get("duration_ms")) for r in work) / 1000, 1),
        "span_seconds": round(span, 1),
        "records_per_second": rate,
        "ceiling_ratio": round(rate / ceiling, 3) if ceiling else 0.0,
    }


def load_figures(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
    loaded = [r for r in rows if r["state"] == "loaded"]
    records = sum(_int(r.get("records")) for r in loaded)
    busy_ms = 0
    for r in loaded:
        detail = _detail(r)
        busy_ms += _int(detail["load_ms"]) if "load_ms" in detail else _int(r.get("duration_ms"))
    busy = busy_ms / 1000
    return {
        "windows": len(loaded),
        "load_jobs": sum(1 for r in loaded if _int(r.get("records")) > 0),
        "records": records,
        "busy_seconds": round(busy, 1),
        "handler_seconds": round(sum(_int(r.get("duration_ms")) for r in loaded) / 1000, 1),
        "span_seconds": round(_span(loaded), 1),
        "records_per_busy_second": _per_second(records, busy),
    }


def merge_figures(
    window_rows: list[Mapping[str, Any]], run_rows: list[Mapping[str, Any]]
) -> dict[str, Any]:
    batched = [r for r in run_rows if r["state"] == "entity_merged"]
    if batched:
        busy = sum(_int(r.get("duration_ms")) for r in batched) / 1000
        rows = sum(_int(r.get("records")) for r in batched)
        return {
            "source": "run_events",
            "merges": len(batched),
            "windows": sum(_int(r.get("windows")) for r in batched),
            "rows": rows,
            "busy_seconds": round(busy, 1),
            "per_entity": _per_entity(batched),
            "records_per_busy_second": _per_second(rows, busy),
        }
    loaded = [r for r in window_rows if r["state"] == "loaded" and _int(r.get("records")) > 0]
    busy = sum(_int(_detail(r).get("merge_ms")) for r in loaded) / 1000
    rows = sum(_int(r.get("rows_merged")) for r in loaded)
    return {
        "source": "window_events",
        "merges": len(loaded),
        "windows": len(loaded),
        "rows": rows,
        "busy_seconds": round(busy, 1),
        "records_per_busy_second": _per_second(rows, busy),
    }


def _per_entity(batched: list[Mapping[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in batched:
        name = str(r.get("entities") or "?")
        out[name] = out.get(name, 0) + 1
    return dict(sorted(out.items()))


def stage_figures(
    window_rows: Iterable[Mapping[str, Any]],
    run_rows: Iterable[Mapping[str, Any]],
    *,
    requests: int,
    ceiling: float,
) -> dict[str, dict[str, Any]]:
    """fetch / load / merge / rebuild figures of one run from its ops rows."""
    windows = latest_per_window(window_rows)
    runs = list(run_rows)
    out: dict[str, dict[str, Any]] = {
        "fetch": fetch_figures(windows, requests=requests, ceiling=ceiling),
        "load": load_figures(windows),
        "merge": merge_figures(windows, runs),
    }
    rebuilt = [r for r in runs if r["state"] == "rebuilt"]
    if rebuilt:
        out["rebuild"] = {"seconds": round(_int(rebuilt[-1].get("duration_ms")) / 1000, 1)}
    return out


def cpu_per_thousand(cpu_seconds: float, records: int) -> float:
    """CPU seconds per 1,000 records (0 when nothing was copied)."""
    return round(1000 * cpu_seconds / records, 3) if records else 0.0
