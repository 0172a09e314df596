"""One row per key in every raw table, the latest version, whatever happens (DESIGN.md).

A property test (hypothesis, a bounded and derandomized number of examples) drives the real
raw MERGE (``Warehouse.merge``, ``sql/stage/merge_raw.sql``) and the key scan's marks
(``sql/stage/mark_deleted.sql``) on the local BigQuery through random sequences of loads
(one or two windows), edits whose dates move across partitions or to NULL, repeats of the
same version, replays of old batches and key scans, over every transactional entity of the
registry; then compares raw with a model: exactly the keys ever loaded, one row each, at the
highest version seen, with that version's partition value, marked deleted exactly when the
last scan since the key appeared did not see it. Two examples name the defects it found:
a business date that moves out of a batch's range, and a row whose partition value is NULL.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stkpi import raw_ddl, sqlfiles
from stkpi.config import Settings
from stkpi.registry import ENTITIES, Entity, get_entity, record_key
from stkpi.rows import to_row
from stkpi.warehouse import Warehouse, ensure_datasets, raw_schema, staging_table_id
from stkpi.windows import iso_z
from stkpi_tools.localstack import DEFAULT_PROJECT
from stkpi_tools.localstack.settings_env import local_settings_env, settings_from

pytestmark = pytest.mark.integration

PARTITIONED = [e.name for e in ENTITIES if e.kind == "transactional" and e.partition_field]
# Dates years and days apart (so batches span a few partitions and edits leave them) and
# NULL, which a real record may carry in a business date (a PO not yet dated).
DAYS: tuple[date | None, ...] = (
    date(2014, 2, 3),
    date(2019, 6, 30),
    date(2019, 7, 1),
    date(2025, 12, 31),
    None,
)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def wh(bq_emulator) -> Iterator[Warehouse]:
    env = {**local_settings_env(DEFAULT_PROJECT), **bq_emulator.service.env()}
    env["BQ_DATASET_PREFIX"] = "rawinv"
    s: Settings = settings_from(env)
    ensure_datasets(bq_emulator.client, s)
    yield Warehouse(bq_emulator.client, s)


def _set(record: dict[str, Any], dotted: str, value: Any) -> None:
    *path, last = dotted.split(".")
    for part in path:
        record = record.setdefault(part, {})
    record[last] = value


def _ts(day: date | None, hour: int = 12) -> str | None:
    if day is None:
        return None
    return iso_z(datetime(day.year, day.month, day.day, hour, tzinfo=UTC))


_FILLER = {"INT64": 7, "NUMERIC": "12.50", "FLOAT64": 1.5, "BOOL": True, "STRING": "x"}


def make_record(
    entity: Entity, key: int, version: int, day: date | None, created: date | None
) -> dict[str, Any]:
    """An API record of ``entity`` shaped from the registry (so it follows renames): its key,
    its partition date ``day`` (``created`` for an immutable createdOn), ``modifiedOn`` from
    ``version``, and a version-stamped value in every other column."""
    record: dict[str, Any] = {}
    for col in entity.columns:
        if not col.sources:
            continue  # a hashed key, computed from key_hash_fields
        if col.name in entity.key:
            value: Any = key
        elif col.name == entity.version_column:
            value = iso_z(EPOCH + timedelta(minutes=version))
        elif col.name == entity.partition_field:
            value = _ts(created if entity.partition_immutable else day)
        elif col.name == "created_on":
            value = _ts(created)
        elif col.type == "TIMESTAMP":
            value = _ts(date(2020, 1, 1))
        elif col.type == "STRING":
            value = f"v{version}"
        else:
            value = _FILLER[col.type]
        _set(record, col.sources[0], value)
    for name in entity.key_hash_fields or ():
        if name not in record:
            record[name] = key  # identifying fields of a hash-keyed entity
    return record


@dataclass
class Model:
    """What raw must hold: per key, its records by version, and the key scans."""

    entity: Entity
    versions: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    created: dict[int, date | None] = field(default_factory=dict)
    current: dict[int, tuple[int, date | None]] = field(default_factory=dict)
    marked: dict[str, bool] = field(default_factory=dict)
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    clock: itertools.count = field(default_factory=lambda: itertools.count(1))

    def record(self, key: int, version: int, day: date | None) -> dict[str, Any]:
        rec = make_record(self.entity, key, version, day, self.created[key])
        self.versions.setdefault(record_key(self.entity, rec), {})[version] = rec
        return rec

    def loaded(self, records: list[dict[str, Any]]) -> None:
        self.batches.append(records)
        for rec in records:
            self.marked.setdefault(record_key(self.entity, rec), False)

    def latest(self) -> dict[str, dict[str, Any]]:
        return {k: v[max(v)] for k, v in self.versions.items() if k in self.marked}


class Raw:
    """The entity's raw table on the local BigQuery, staged and merged as the loader does."""

    def __init__(self, wh: Warehouse, entity: Entity, run: str) -> None:
        self.wh, self.entity, self.run = wh, entity, run
        self.windows = itertools.count(1)
        s = wh.settings
        self.table = f"{s.gcp_project}.{s.dataset('raw')}.{entity.raw_table}"
        wh.client.query_and_wait(f"DROP TABLE IF EXISTS `{self.table}`")
        for statement in sqlfiles.statements(raw_ddl.render(entity, s)):
            wh.client.query_and_wait(statement)

    def _stage(self, records: list[dict[str, Any]]) -> str:
        window = f"w{next(self.windows)}"
        table = self.wh._table("stage", staging_table_id(self.entity, self.run, window))
        self.wh.client.query_and_wait(f"DROP TABLE IF EXISTS `{table}`")
        from google.cloud import bigquery

        self.wh.client.create_table(bigquery.Table(table, schema=raw_schema(self.entity)))
        rows = [
            to_row(self.entity, r, run_id=self.run, window_id=window, page=1, ingested_at=EPOCH)
            for r in records
        ]
        if rows:
            assert not self.wh.client.insert_rows_json(table, rows)
        return window

    def merge(self, windows: list[list[dict[str, Any]]]) -> None:
        ids = [self._stage(records) for records in windows]
        self.wh.merge(self.entity, run_id=self.run, window_ids=ids)
        self.wh.drop_staging(self.entity, self.run, ids)

    def scan(self, seen: list[str], at: datetime) -> None:
        """A key scan that saw the keys ``seen`` (sql/stage/mark_deleted.sql, every row in
        scope, as for a reference entity)."""
        key = self.entity.key[0]
        kind = "STRING" if self.entity.column(key).type == "STRING" else "INT64"
        values = ", ".join(f"CAST('{k}' AS {kind})" for k in seen)
        source = f"(SELECT {key} FROM UNNEST([{values}]) AS {key})"
        if not seen:
            source = f"(SELECT CAST(NULL AS {kind}) AS {key} FROM (SELECT 1) WHERE FALSE)"
        sql = sqlfiles.render(
            "stage/mark_deleted.sql",
            self.wh.settings,
            table=self.entity.raw_table,
            key=key,
            source=source,
            scope="TRUE",
            scanned_at=f"TIMESTAMP '{iso_z(at)}'",
        )
        for statement in sqlfiles.statements(sql):
            self.wh.client.query_and_wait(statement)

    def rows(self) -> list[dict[str, Any]]:
        key = self.entity.key[0]
        sql = (
            f"SELECT CAST({key} AS STRING) AS k, {self.entity.version_column} AS v, "
            f"{self.entity.partition_field} AS p, payload, deleted_at IS NOT NULL AS marked "
            f"FROM `{self.table}`"
        )
        return [dict(r.items()) for r in self.wh.client.query_and_wait(sql)]


def assert_one_row_per_key_latest(raw: Raw, model: Model) -> None:
    entity = raw.entity
    rows = raw.rows()
    by_key: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_key.setdefault(row["k"], []).append(row)
    doubled = {k: len(v) for k, v in by_key.items() if len(v) > 1}
    assert not doubled, f"{entity.name}: keys with more than one row: {doubled}"
    latest = model.latest()
    assert set(by_key) == set(latest), f"{entity.name}: keys differ from what was loaded"
    for key, rec in latest.items():
        (row,) = by_key[key]
        want = to_row(entity, rec, run_id="", window_id="", page=1, ingested_at=EPOCH)
        assert row["payload"] == want["payload"], f"{entity.name} {key}: not the latest version"
        got_p = None if row["p"] is None else iso_z(row["p"])
        assert got_p == want[entity.partition_field], f"{entity.name} {key}: partition value"
        assert row["marked"] == model.marked[key], f"{entity.name} {key}: deleted mark"


def _run_ops(raw: Raw, model: Model, data: st.DataObject, steps: int) -> None:
    keys = st.integers(min_value=1, max_value=4)
    days = st.sampled_from(DAYS)
    for _ in range(steps):
        op = data.draw(st.sampled_from(["load", "load", "load", "replay", "scan"]), label="op")
        if op == "replay" and model.batches:
            batch = data.draw(st.sampled_from(model.batches), label="replayed batch")
            raw.merge([batch])
        elif op == "scan" and model.marked:
            seen = data.draw(st.sets(st.sampled_from(sorted(model.marked))), label="seen")
            raw.scan(sorted(seen), EPOCH + timedelta(minutes=next(model.clock)))
            for key in model.marked:
                if key in seen:
                    model.marked[key] = False
                elif not model.marked[key]:
                    model.marked[key] = True
        else:
            records = []
            for _ in range(data.draw(st.integers(1, 4), label="records")):
                key = data.draw(keys, label="key")
                if key not in model.created:
                    model.created[key] = data.draw(days, label="created")
                kind = data.draw(st.sampled_from(["edit", "repeat"]), label="kind")
                if kind == "repeat" and key in model.current:
                    version, day = model.current[key]  # the same version again
                else:
                    version, day = next(model.clock), data.draw(days, label="date")
                    model.current[key] = (version, day)
                records.append(model.record(key, version, day))
            split = data.draw(st.integers(0, len(records)), label="second window from")
            windows = [records[:split], records[split:]] if 0 < split < len(records) else [records]
            raw.merge(windows)
            model.loaded(records)


@settings(
    max_examples=24,
    derandomize=True,  # the same examples on every run: a verdict never depends on luck
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_raw_holds_one_row_per_key_at_its_latest_version(wh: Warehouse, data) -> None:
    entity = get_entity(data.draw(st.sampled_from(PARTITIONED), label="entity"))
    model = Model(entity)
    raw = Raw(wh, entity, "prop")
    _run_ops(raw, model, data, data.draw(st.integers(2, 6), label="steps"))
    assert_one_row_per_key_latest(raw, model)


@pytest.mark.parametrize(
    "entity_name", [n for n in PARTITIONED if not get_entity(n).partition_immutable]
)
def test_a_business_date_moved_out_of_the_batch_range_replaces_the_row(
    wh: Warehouse, entity_name: str
) -> None:
    # Loaded dated 2019-06-30, then edited to 2025-12-31: the second batch's range is that
    # one day, and a MERGE pruned to it missed the old row and inserted the key again.
    entity = get_entity(entity_name)
    model = Model(entity)
    model.created[1] = DAYS[0]
    raw = Raw(wh, entity, "moved")
    for version, day in ((1, DAYS[1]), (2, DAYS[3])):
        batch = [model.record(1, version, day)]
        raw.merge([batch])
        model.loaded(batch)
    assert_one_row_per_key_latest(raw, model)


def test_a_row_without_a_partition_value_is_matched(wh: Warehouse) -> None:
    # jobs are pruned on createdOn: a row whose createdOn is NULL lies in no partition range,
    # and a pruned MERGE never matched it, so its next version was inserted beside it.
    entity = get_entity("jobs")
    model = Model(entity)
    raw = Raw(wh, entity, "nullpart")
    model.created[1] = None
    model.created[2] = DAYS[1]
    first = [model.record(1, 1, None)]
    raw.merge([first])
    model.loaded(first)
    model.created[1] = DAYS[1]  # served with a createdOn from now on
    second = [model.record(1, 2, None), model.record(2, 3, None)]
    raw.merge([second])
    model.loaded(second)
    assert_one_row_per_key_latest(raw, model)
