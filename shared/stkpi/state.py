"""Run and window state in ``st_ops``: append-only events plus the sync high-water marks.

Events are appended with streaming inserts, never updated in place: dozens of function
instances report at once, and appends do not contend the way UPDATEs of a shared row do.
Views (``sql/ops/windows.sql``, ``runs.sql``) fold the events into current state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.cloud import bigquery

from stkpi import sqlfiles
from stkpi.config import Settings
from stkpi.errors import StkpiError
from stkpi.windows import iso_z


class StateWriteError(StkpiError):
    """BigQuery refused an ops row; the step fails so Pub/Sub retries it."""


class OpsState:
    def __init__(self, client: bigquery.Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def _table(self, name: str) -> str:
        return f"{self.settings.gcp_project}.{self.settings.dataset('ops')}.{name}"

    def _insert(self, table: str, row: dict[str, Any]) -> None:
        errors = self.client.insert_rows_json(self._table(table), [row])
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
        pages: int | None = None,
        records: int | None = None,
        rows_merged: int | None = None,
        duration_ms: int | None = None,
        error: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self._insert(
            "window_events",
            {
                "run_id": run_id,
                "entity": entity,
                "window_id": window_id,
                "window_start": iso_z(start) if start else None,
                "window_end": iso_z(end) if end else None,
                "state": state,
                "pages": pages,
                "records": records,
                "rows_merged": rows_merged,
                "duration_ms": duration_ms,
                "error": error[:4000] if error else None,
                "detail": json.dumps(detail, default=str) if detail else None,
                "event_time": iso_z(datetime.now(UTC)),
            },
        )

    def run_event(
        self,
        *,
        run_id: str,
        state: str,
        run_type: str | None = None,
        entities: list[str] | None = None,
        windows: int | None = None,
        records: int | None = None,
        plan_start: datetime | None = None,
        plan_end: datetime | None = None,
        duration_ms: int | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self._insert(
            "run_events",
            {
                "run_id": run_id,
                "run_type": run_type,
                "state": state,
                "entities": ",".join(entities) if entities else None,
                "windows": windows,
                "records": records,
                "plan_start": iso_z(plan_start) if plan_start else None,
                "plan_end": iso_z(plan_end) if plan_end else None,
                "duration_ms": duration_ms,
                "detail": json.dumps(detail, default=str) if detail else None,
                "event_time": iso_z(datetime.now(UTC)),
            },
        )

    def advance_sync_state(self, run_id: str, marks: Mapping[str, datetime]) -> None:
        now = iso_z(datetime.now(UTC))
        rows = [
            {"entity": e, "high_water": iso_z(ts), "run_id": run_id, "event_time": now}
            for e, ts in sorted(marks.items())
        ]
        if rows:
            errors = self.client.insert_rows_json(self._table("sync_state"), rows)
            if errors:
                raise StateWriteError(f"insert into sync_state failed: {errors}")

    def high_water_marks(self) -> dict[str, datetime]:
        rows = self.query_file("ops/high_water_marks.sql")
        return {row["entity"]: row["high_water"] for row in rows}

    def query_file(self, relpath: str, **params: str | int) -> list[dict[str, Any]]:
        """Run ``sql/<relpath>`` with named query parameters (never string-spliced)."""
        config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter(k, "INT64" if isinstance(v, int) else "STRING", v)
                for k, v in params.items()
            ]
        )
        sql = sqlfiles.render(relpath, self.settings)
        return [dict(row.items()) for row in self.client.query(sql, job_config=config).result()]
