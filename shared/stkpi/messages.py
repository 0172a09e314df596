"""Pub/Sub message schemas (JSON, versioned with ``"v": 1``).

Every function decodes its message here. A message that does not parse or fails its schema
raises ``BadMessageError`` (a permanent error): the function logs it with its content and
acks it to the dead-letter path instead of letting Pub/Sub retry it forever.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from stkpi.config import TENANT_ID_PATTERN
from stkpi.errors import BadMessageError, PermanentError
from stkpi.registry import DELETABLE, get_entity

_TENANT_ID = re.compile(TENANT_ID_PATTERN)


class _Message(BaseModel):
    """``tenant_id``: the tenant the message is about (docs/TENANTS.md); absent, the
    deployment's default tenant, so every message from before tenants means what it
    meant. ``stkpi.runtime`` resolves it to the tenant's context, whose bus stamps it on
    every message the step publishes next (stkpi.bus), so no step has to carry it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    tenant_id: str | None = None

    @field_validator("tenant_id", mode="before")
    @classmethod
    def _tenant_id(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # a hand-written message may give the number as JSON does
        if value is not None and not (isinstance(value, str) and _TENANT_ID.fullmatch(value)):
            raise ValueError(
                f"{value!r} is not a tenant id: must be ServiceTitan's numeric tenant id "
                "(`stkpi tenant list` shows the deployment's tenants)"
            )
        return value

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


def _known_entity(name: str) -> str:
    try:
        get_entity(name)
    except PermanentError as exc:  # surface as a schema problem, listing the known names
        raise ValueError(str(exc)) from None
    return name


def _aware(ts: datetime) -> datetime:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError("timestamps must carry a UTC offset (e.g. 2025-08-18T00:00:00Z)")
    return ts


class PlanMessage(_Message):
    """What Cloud Scheduler or ``stkpi backfill`` publishes to ``st-plan``.

    ``run_type="deletes"`` is the key scan (``stkpi deletes``, the weekly schedule): every
    current key of the deletable entities, fetched like any run, then compared with raw
    (stkpi.key_scan). Its guard is the deployment's, raised only by the operator
    (``stkpi deletes --allow-share``), never by a field of this message."""

    run_type: Literal["daily", "backfill", "reference", "deletes"]
    entities: list[str] = Field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    window_days: int | None = Field(default=None, ge=1, le=3660)
    # Split windows above this many full pages (default: the deployment's
    # WINDOW_TARGET_PAGES); for a run that wants smaller or larger windows than usual.
    window_target_pages: int | None = Field(default=None, ge=1, le=10_000)
    run_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")

    @model_validator(mode="before")
    @classmethod
    def _no_guard_override(cls, data: Any) -> Any:
        if isinstance(data, dict) and "max_delete_share" in data:
            raise ValueError(
                "max_delete_share is not a message field: whoever may publish a plan must not "
                "be able to raise the delete guard; the operator runs "
                "`stkpi deletes --entities ... --allow-share ...`"
            )
        return data

    @field_validator("entities")
    @classmethod
    def _entities_known(cls, names: list[str]) -> list[str]:
        return [_known_entity(n) for n in names]

    @field_validator("start", "end")
    @classmethod
    def _tz(cls, ts: datetime | None) -> datetime | None:
        return None if ts is None else _aware(ts)

    @model_validator(mode="after")
    def _range(self) -> PlanMessage:
        if self.run_type == "backfill" and (self.start is None or self.end is None):
            raise ValueError("a backfill needs both start and end")
        if self.run_type == "deletes":
            odd = [n for n in self.entities if n not in DELETABLE]
            if odd:
                raise ValueError(
                    f"a key scan covers only entities ServiceTitan deletes "
                    f"({', '.join(DELETABLE)}); not {', '.join(odd)}"
                )
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(
                f"end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )
        return self


class WindowMessage(_Message):
    """One window of one entity to fetch: ``[start, end)`` by the entity's cursor."""

    run_id: str
    entity: str
    window_id: str
    start: datetime
    end: datetime
    page_from: int = Field(default=1, ge=1)
    # Continuation state (see stkpi.fetch): which re-read pass this is, the window's record
    # count when the pass began, and how many page files earlier passes already wrote.
    pass_no: int = Field(default=1, ge=1)
    pass_count: int | None = Field(default=None, ge=0)
    page_offset: int = Field(default=0, ge=0)
    # The run's split target in full pages, when its plan message gave one (stkpi.splits).
    target_pages: int | None = Field(default=None, ge=1, le=10_000)
    # A key scan's window: [start, end) by createdOn, not modifiedOn (Entity.for_key_scan).
    scan: bool | None = None
    # The landing objects holding the keys earlier deliveries of this pass read (a window
    # must add up to its count, stkpi.fetch).
    pass_keys: list[str] | None = None
    # An export window (stkpi.fetch_export): the entity's export feed from ``continue_from``
    # (a continuation token, or a date YYYY-MM-DD) to its end, not a list window.
    export: bool | None = None
    continue_from: str | None = Field(default=None, min_length=1, max_length=4096)

    @field_validator("entity")
    @classmethod
    def _entity_known(cls, name: str) -> str:
        return _known_entity(name)

    @field_validator("start", "end")
    @classmethod
    def _tz(cls, ts: datetime) -> datetime:
        return _aware(ts)

    @model_validator(mode="after")
    def _export_window(self) -> WindowMessage:
        if self.export and self.scan:
            raise ValueError("a key scan reads the list, never the export")
        if self.export and get_entity(self.entity).export_resource is None:
            raise ValueError(f"{self.entity} has no export endpoint")
        if self.continue_from is not None and not self.export:
            raise ValueError("continue_from applies to export windows only")
        return self

    @model_validator(mode="after")
    def _range(self) -> WindowMessage:
        if self.end <= self.start:
            raise ValueError(
                f"window end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )
        return self


class LoadMessage(_Message):
    """A fetched window whose pages wait in the landing bucket."""

    run_id: str
    entity: str
    window_id: str
    gcs_prefix: str
    pages: int = Field(ge=0)
    records: int = Field(ge=0)

    @field_validator("entity")
    @classmethod
    def _entity_known(cls, name: str) -> str:
        return _known_entity(name)


class RebuildMessage(_Message):
    """All windows of a run are loaded: rebuild dims and marts once. ``mode="validate"``
    (the daily validation schedule) runs the validations only."""

    run_id: str
    entities: list[str]
    mode: Literal["rebuild", "validate"] = "rebuild"

    @field_validator("entities")
    @classmethod
    def _entities_known(cls, names: list[str]) -> list[str]:
        return [_known_entity(n) for n in names]


M = TypeVar("M", bound=_Message)


def decode(model: type[M], data: bytes | str | dict[str, Any]) -> M:
    """Parse a message body (raw JSON bytes, or already-decoded dict) into ``model``."""
    try:
        payload = data if isinstance(data, dict) else json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadMessageError(
            f"{model.__name__}: body is not JSON ({exc}): {data!r:.500}"
        ) from None
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()
        )
        raise BadMessageError(
            f"{model.__name__} rejected: {problems}; body={payload!r:.500}"
        ) from None


def decode_push(model: type[M], envelope: dict[str, Any] | None) -> M:
    """Decode the Pub/Sub message carried by a push envelope ``{"message": {"data": ...}}``."""
    try:
        encoded = envelope["message"]["data"]  # type: ignore[index]
        raw = base64.b64decode(encoded, validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise BadMessageError(
            f"{model.__name__}: push envelope has no base64 message.data ({exc!r}): {envelope!r:.500}"
        ) from None
    return decode(model, raw)
