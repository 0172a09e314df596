"""Validation results as rows of ``${ops}.validation_results`` (the report and the
stoplight read them back)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from google.cloud import bigquery

from stkpi.config import Settings
from stkpi.validation.result import CheckResult


def result_rows(
    results: Sequence[CheckResult], *, run_id: str, checked_at: dt.datetime
) -> list[dict[str, Any]]:
    stamp = checked_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return [
        {
            "run_id": run_id,
            "checked_at": stamp,
            "check_name": r.name,
            "category": r.category,
            "subject": r.subject,
            "status": r.status,
            "value": r.value,
            "numbers": json.dumps(r.numbers, default=str, sort_keys=True),
            "threshold": json.dumps(r.threshold, default=str, sort_keys=True),
            "message": r.message,
            "next_step": r.next_step or None,
        }
        for r in results
    ]


def store_results(
    client: bigquery.Client,
    settings: Settings,
    results: Sequence[CheckResult],
    *,
    run_id: str,
    checked_at: dt.datetime,
) -> None:
    table = f"{settings.gcp_project}.{settings.dataset('ops')}.validation_results"
    rows = result_rows(results, run_id=run_id, checked_at=checked_at)
    if rows:
        errors = client.insert_rows_json(table, rows)
        if errors:
            raise RuntimeError(f"insert into validation_results failed: {errors[:3]}")
