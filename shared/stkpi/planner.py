"""Cut a plan message into the run's windows (pure logic, no I/O).

- backfill: ``[start, end)`` cut into ``window_days`` windows per transactional entity;
  reference entities get one full-refresh window.
- daily: per transactional entity, from its high-water mark minus its lookback (7 days,
  estimates 180: a sale months later moves an estimate's ``modifiedOn``) to now, floored
  to the hour so a redelivered scheduler message plans the same run id and windows; plus
  a full refresh of the reference entities (a few requests), so a business unit or job
  type created today is named in today's KPIs instead of landing in ``unmapped``.
- reference: one full-refresh window per reference entity (weekly schedule).
- export reads (``Entity.export_runs``, docs/EXPORTS.md): instead of list windows, one
  export window per entity: a backfill's feed from its start date, a daily run's from the
  token the entity's last export ended on (``st_ops.sync_state``), or, before the first,
  from the date of its mark minus its lookback.
- deletes (the key scan, stkpi.key_scan): per deletable entity, windows by createdOn over
  ``[start, end)`` (default ``KEY_SCAN_START``.. now, floored to the hour), each marked
  ``scan``; a reference entity gets its full list. No high-water mark moves: the scan
  is not a sync, and its windows are not by ``modifiedOn``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from stkpi.errors import PermanentError
from stkpi.messages import PlanMessage, WindowMessage
from stkpi.registry import DELETABLE, REFERENCE, TRANSACTIONAL, get_entity
from stkpi.windows import Window, cut, fmt_compact

# Where a key scan starts by default: before any tenant's first record. Windows split by
# count (stkpi.splits), so the empty years before a tenant's history cost one request each.
KEY_SCAN_START = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RunPlan:
    run_id: str
    run_type: str
    start: datetime
    end: datetime
    windows: tuple[WindowMessage, ...]
    entity_ends: dict[str, datetime] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # How many windows the run keeps in flight (None: every window at once, as plans
    # stored before lanes existed did). See first_wave / successor.
    lanes: int | None = None

    @property
    def entities(self) -> list[str]:
        return sorted({w.entity for w in self.windows})

    def first_wave(self) -> tuple[WindowMessage, ...]:
        """The windows plan_windows publishes: one per lane."""
        return self.windows if self.lanes is None else self.windows[: self.lanes]

    def successor(self, entity: str, window_id: str) -> WindowMessage | None:
        """The window that takes over this window's lane once it is loaded: the one
        ``lanes`` places later in the plan. Lane k thus runs windows k, k+lanes,
        k+2*lanes, ... one after another, and every window is in exactly one lane."""
        if self.lanes is None:
            return None
        for i, window in enumerate(self.windows):
            if window.entity == entity and window.window_id == window_id:
                nxt = i + self.lanes
                return self.windows[nxt] if nxt < len(self.windows) else None
        return None

    def manifest(self) -> dict:
        """The run's plan as stored in the landing bucket (first writer wins)."""
        return {
            "run_id": self.run_id,
            "run_type": self.run_type,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "entity_ends": {k: v.isoformat() for k, v in self.entity_ends.items()},
            "windows": [w.model_dump(mode="json", exclude_none=True) for w in self.windows],
            "notes": list(self.notes),
            "lanes": self.lanes,
        }

    @classmethod
    def from_manifest(cls, doc: dict) -> RunPlan:
        return cls(
            run_id=doc["run_id"],
            run_type=doc["run_type"],
            start=datetime.fromisoformat(doc["start"]),
            end=datetime.fromisoformat(doc["end"]),
            windows=tuple(WindowMessage.model_validate(w) for w in doc["windows"]),
            entity_ends={k: datetime.fromisoformat(v) for k, v in doc["entity_ends"].items()},
            notes=tuple(doc.get("notes", ())),
            lanes=doc.get("lanes"),
        )


def _export_window(
    msg: PlanMessage,
    run_id: str,
    name: str,
    start: datetime,
    end: datetime,
    tokens: dict[str, str],
) -> WindowMessage:
    """The one export window of ``name``: from its stored token (a daily run that names no
    start), else from ``start``'s date (the export's ``from`` takes a date: records
    modified on or after it; a day's more read is harmless, the MERGE keeps one row)."""
    token = tokens.get(name) if msg.run_type == "daily" and msg.start is None else None
    return WindowMessage(
        run_id=run_id,
        entity=name,
        window_id=f"export_{fmt_compact(end)}",
        start=start,
        end=end,
        export=True,
        continue_from=token or start.date().isoformat(),
    )


def floor_hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def _default_entities(run_type: str) -> list[str]:
    if run_type == "reference":
        return list(REFERENCE)
    if run_type == "deletes":
        return list(DELETABLE)
    return [*TRANSACTIONAL, *REFERENCE]


def plan_run(
    msg: PlanMessage,
    *,
    now: datetime,
    default_window_days: int,
    marks: dict[str, datetime] | None = None,
    lanes: int | None = None,
    tokens: dict[str, str] | None = None,
) -> RunPlan:
    """Windows of the run ``msg`` asks for; raises ``PermanentError`` for impossible asks.
    ``tokens``: where each entity's export feed continues (daily runs)."""
    names = msg.entities or _default_entities(msg.run_type)
    if msg.end is not None and msg.end > now:
        # Marks would move past now, and every daily run after would plan from the future.
        raise PermanentError(
            f"end {msg.end.isoformat()} is in the future (now {now.isoformat()}): "
            "a run can only copy what ServiceTitan holds already; end at or before now"
        )
    end = msg.end or floor_hour(now)
    days = msg.window_days or default_window_days
    run_id = msg.run_id or f"{msg.run_type}-{fmt_compact(end)}"
    marks = marks or {}
    tokens = tokens or {}
    windows: list[WindowMessage] = []
    notes: list[str] = []
    entity_ends: dict[str, datetime] = {}
    starts: list[datetime] = []

    scan = msg.run_type == "deletes"
    for name in names:
        entity = get_entity(name)
        if scan and entity.kind == "transactional":
            entity.for_key_scan()  # an entity without a createdOn filter fails here
            start = msg.start or KEY_SCAN_START
            if start >= end:
                raise PermanentError(
                    f"{name}: empty key scan range {start.isoformat()} .. {end.isoformat()}"
                )
            spans = cut(start, end, days)
            window_ids = [w.window_id for w in spans]
        elif entity.kind == "reference":
            start = msg.start or end - timedelta(days=1)
            spans = [Window(start, end)]
            window_ids = [f"full_{fmt_compact(end)}"]
        else:
            if msg.run_type == "backfill":
                assert msg.start is not None  # enforced by PlanMessage
                start = msg.start
            else:
                mark = marks.get(name)
                if mark is None:
                    notes.append(f"{name}: no high-water mark yet (run a backfill); lookback only")
                    mark = end
                elif mark > end:  # written by a run planned into the future: never past now
                    notes.append(f"{name}: high-water mark {mark.isoformat()} was in the future")
                    mark = end
                start = (msg.start or mark) - timedelta(days=entity.lookback_days)
            if start >= end:
                raise PermanentError(
                    f"{name}: empty range {start.isoformat()} .. {end.isoformat()}"
                )
            if entity.reads_export(msg.run_type):
                entity_ends[name] = end
                starts.append(start)
                windows.append(_export_window(msg, run_id, name, start, end, tokens))
                continue
            spans = cut(start, end, days)
            window_ids = [w.window_id for w in spans]
        if not scan:
            entity_ends[name] = end
        starts.append(spans[0].start)
        windows.extend(
            WindowMessage(
                run_id=run_id,
                entity=name,
                window_id=wid,
                start=w.start,
                end=w.end,
                target_pages=msg.window_target_pages,
                scan=True if scan else None,
            )
            for w, wid in zip(spans, window_ids, strict=True)
        )
    if not windows:
        raise PermanentError("the plan has no windows: name at least one entity")
    return RunPlan(
        run_id=run_id,
        run_type=msg.run_type,
        start=min(starts),
        end=end,
        windows=tuple(windows),
        entity_ends=entity_ends,
        notes=tuple(notes),
        lanes=lanes,
    )
