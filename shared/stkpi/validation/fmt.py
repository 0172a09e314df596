"""Small helpers the judges and measures share to write numbers, dates and file names
the same way in every message and stored result."""

from __future__ import annotations

import datetime as dt
from typing import Any

VALIDATIONS = "validations"


def sql_path(name: str) -> str:
    """The repository path of a validation query, as the next steps name it."""
    return f"sql/{VALIDATIONS}/{name}.sql"


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def jsonable(value: Any) -> Any:
    """A query value as JSON keeps it (dates as ISO text, anything unusual as text)."""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def as_date(value: Any) -> dt.date:
    """A DATE column as BigQuery or its emulator returns it (date, datetime or text)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
