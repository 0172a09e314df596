"""The naive baseline: what the old ingestor did, measured on the same stack and tenant.

One process, one request at a time, no windows: every entity is paged from the start of
history to now, written to one file, loaded with one load job and MERGEd. The same client
(same rate limit, same retries), the same row conversion, the same warehouse code, into
datasets of their own (prefix ``naive``), so the difference is the design, not the parts.
"""

from __future__ import annotations

import gzip
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from stkpi import gcp
from stkpi.config import Settings
from stkpi.context import utc_now
from stkpi.landing import Landing
from stkpi.registry import ENTITIES
from stkpi.rows import to_row
from stkpi.servicetitan import ServiceTitanClient
from stkpi.warehouse import Warehouse, ensure_tables
from stkpi_tools.sim.config import HISTORY_START


def naive_backfill(settings: Settings, end: datetime) -> dict[str, Any]:
    settings = settings.model_copy(update={"bq_dataset_prefix": "naive"})
    bq = gcp.bigquery_client(settings)
    ensure_tables(bq, settings)
    warehouse = Warehouse(bq, settings)
    landing = Landing(gcp.storage_client(settings), settings.landing_bucket)
    client = ServiceTitanClient(settings)
    fetch_s = load_s = 0.0
    records = 0
    now = utc_now()
    with tempfile.TemporaryDirectory() as tmp:
        for entity in ENTITIES:
            t0 = time.monotonic()
            path = Path(tmp) / f"{entity.name}.json.gz"
            n = 0
            start = None if entity.kind == "reference" else HISTORY_START
            with gzip.open(path, "wt") as fh:
                for page in client.iter_pages(entity, start, end if start else None):
                    for record in page.records:
                        row = to_row(
                            entity, record, run_id="naive", window_id="all",
                            page=page.number, ingested_at=now,
                        )  # fmt: skip
                        fh.write(json.dumps(row, default=str) + "\n")
                        n += 1
            t1 = time.monotonic()
            fetch_s += t1 - t0
            records += n
            if n:
                name = f"naive/{entity.name}/all.json.gz"
                landing.upload_file(name, path)
                _staging, _job, _rows, _reused = warehouse.load_staging(
                    entity, run_id="naive", window_id="all",
                    uris=[landing.uri(name)], content_hash=f"naive-{n}-{now.timestamp()}",
                )  # fmt: skip
                warehouse.merge(entity, run_id="naive", window_ids=["all"])
                warehouse.drop_staging(entity, "naive", ["all"])
            load_s += time.monotonic() - t1
    return {
        "records": records,
        "fetch_seconds": round(fetch_s, 1),
        "load_seconds": round(load_s, 1),
        "seconds": round(fetch_s + load_s, 1),
        "records_per_second": round(records / (fetch_s + load_s), 1) if records else 0.0,
        "fetch_records_per_second": round(records / fetch_s, 1) if fetch_s else 0.0,
    }
