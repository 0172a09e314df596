"""Run and window state in ``st_ops``: append-only events plus the sync high-water marks.

Events are appended with streaming inserts, never updated in place: dozens of function
instances report at once, and appends do not contend the way UPDATEs of a shared row do.
Views (``sql/ops/windows.sql``, ``runs.sql``) fold the events into current state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from google.cloud import bigquery

from stkpi import sqlfiles
from stkpi.config import Settings
from stkpi.errors import StkpiError
from stkpi.windows import iso_z

if TYPE_CHECKING:
    from stkpi.planner import RunPlan


class StateWriteError(StkpiError):
    """BigQuery refused an ops row; the step fails so Pub/Sub retries it."""


class EventFields(TypedDict, total=False):
    """Optional columns of both event tables (absent: NULL)."""

    records: int | None
    duration_ms: int | None
    detail: Mapping[str, Any] | None


class WindowEventFields(EventFields, total=False):
    """Optional columns only ``window_events`` has."""

    pages: int | None
    rows_merged: int | None
    error: str | None


class RunEventFields(EventFields, total=False):
    """Optional columns only ``run_events`` has (what the run's plan says)."""

    run_type: str | None
    entities: list[str] | None
    windows: int | None
    plan_start: datetime | None
    plan_end: datetime | None


class OpsState:
    def __init__(self, client: bigquery.Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def _table(self, name: str) -> str:
        return f"{self.settings.gcp_project}.{self.settings.dataset('ops')}.{name}"

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        errors = self.client.insert_rows_json(self._table(table), rows)
        if errors:
            raise StateWriteError(f"insert into {table} failed: {errors}")

    def window_event(
        self,
        *,
        run_id: str,
        entity: str,
        window_id: str,
        state: str,
        start: datetime | None = None,
        end: datetime | None = None,
        **fields: Unpack[WindowEventFields],
    ) -> None:
        _known(fields, WindowEventFields)
        error = fields.get("error")
        row = {
            "run_id": run_id,
            "entity": entity,
            "window_id": window_id,
            "window_start": _time(start),
            "window_end": _time(end),
            "state": state,
            "pages": fields.get("pages"),
            "rows_merged": fields.get("rows_merged"),
            "error": error[:4000] if error else None,
        }
        self._insert("window_events", [{**row, **_event_columns(fields)}])

    def quarantine(self, rows: list[dict[str, Any]]) -> None:
        """Append quarantined records (``stkpi.quarantine.quarantine_row``)."""
        if rows:
            self._insert("quarantine", rows)

    def run_event(self, *, run_id: str, state: str, **fields: Unpack[RunEventFields]) -> None:
        _known(fields, RunEventFields)
        entities = fields.get("entities")
        row = {
            "run_id": run_id,
            "run_type": fields.get("run_type"),
            "state": state,
            "entities": ",".join(entities) if entities else None,
            "windows": fields.get("windows"),
            "plan_start": _time(fields.get("plan_start")),
            "plan_end": _time(fields.get("plan_end")),
        }
        self._insert("run_events", [{**row, **_event_columns(fields)}])

    def plan_event(self, plan: RunPlan, state: str, **fields: Unpack[EventFields]) -> None:
        """A run event carrying what ``plan`` says of the run: its type, entities, window
        count and span."""
        self.run_event(
            run_id=plan.run_id,
            state=state,
            run_type=plan.run_type,
            entities=plan.entities,
            windows=len(plan.windows),
            plan_start=plan.start,
            plan_end=plan.end,
            **fields,
        )

    def advance_sync_state(
        self,
        run_id: str,
        marks: Mapping[str, datetime],
        tokens: Mapping[str, str] | None = None,
    ) -> None:
        """Append each entity's new high-water mark and, for an entity read by its export,
        the token its next export continues from."""
        now = iso_z(datetime.now(UTC))
        tokens = tokens or {}
        rows = [
            {"entity": e, "high_water": iso_z(ts), "run_id": run_id, "event_time": now,
             "export_from": tokens.get(e)}
            for e, ts in sorted(marks.items())
        ]  # fmt: skip
        if rows:
            self._insert("sync_state", rows)

    def high_water_marks(self) -> dict[str, datetime]:
        rows = self.query_file("ops/high_water_marks.sql")
        return {row["entity"]: row["high_water"] for row in rows}

    def export_tokens(self) -> dict[str, str]:
        """Where each entity's export feed continues: its newest recorded token."""
        rows = self.query_file("ops/export_tokens.sql")
        return {row["entity"]: row["export_from"] for row in rows}

    def query_file(self, relpath: str, **params: str | int) -> list[dict[str, Any]]:
        """Run ``sql/<relpath>`` with named query parameters (never string-spliced)."""
        config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter(k, "INT64" if isinstance(v, int) else "STRING", v)
                for k, v in params.items()
            ]
        )
        sql = sqlfiles.render(relpath, self.settings)
        return [dict(row.items()) for row in self.client.query_and_wait(sql, job_config=config)]


def _known(fields: Mapping[str, Any], allowed: type) -> None:
    """Refuse a column the table does not have, as a misspelt keyword argument would be."""
    unknown = sorted(set(fields) - allowed.__optional_keys__)  # type: ignore[attr-defined]
    if unknown:
        raise TypeError(f"unexpected event fields: {', '.join(unknown)}")


def _time(value: datetime | None) -> str | None:
    return iso_z(value) if value else None


def _event_columns(fields: EventFields) -> dict[str, Any]:
    """The columns every event has: counts, ``detail`` as JSON, and the time it is recorded."""
    detail = fields.get("detail")
    return {
        "records": fields.get("records"),
        "duration_ms": fields.get("duration_ms"),
        "detail": json.dumps(detail, default=str) if detail else None,
        "event_time": iso_z(datetime.now(UTC)),
    }
