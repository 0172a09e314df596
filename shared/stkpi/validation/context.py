"""What measuring a check needs: the warehouse, the datasets, the moment of the run, the
thresholds, and how to run one of the ``sql/validations/`` queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from google.cloud import bigquery

from stkpi import sqlfiles
from stkpi.config import Settings
from stkpi.table_stats import RawStats, raw_table_stats
from stkpi.validation.config import ValidationConfig
from stkpi.validation.fmt import VALIDATIONS

DeadLetterCounter = Callable[[], Mapping[str, int]]


@dataclass(frozen=True)
class Context:
    """One validation run: every check of it sees the same ``now`` and thresholds.

    ``now`` is the tenant's present (stkpi.clock): it decides which days, weeks and months
    are judged and how old the data is. ``wall_now`` is the machine's (default: ``now``,
    as in the cloud): the pipeline's own events (syncs, windows, runs) are stamped with
    it, so their age is measured on it; on the local stack the simulator's clock stands
    still while the processes run in real time.

    ``dead_letters``: a callable returning dead-lettered message counts per topic (the CLI
    passes one for the local stack); without it the dead-letter check is left out.
    """

    client: bigquery.Client
    settings: Settings
    now: dt.datetime
    config: ValidationConfig
    dead_letters: DeadLetterCounter | None = None
    wall_now: dt.datetime | None = None

    @property
    def machine_now(self) -> dt.datetime:
        """When the checks run on the machine's clock (the age of the pipeline's events)."""
        return self.wall_now or self.now

    @cached_property
    def raw_stats(self) -> dict[str, RawStats | Exception]:
        """Rows and newest version of every raw table, read in one job the first time a
        check asks (the freshness of each entity), not one job per entity."""
        return raw_table_stats(self.client, self.settings)

    @property
    def today(self) -> dt.date:
        """The run's date in the report time zone (days and weeks are local)."""
        return self.now.astimezone(self.settings.tz).date()

    def query(
        self, name: str, params: Mapping[str, str] | None = None, **extra: str
    ) -> list[dict[str, Any]]:
        """The rows of ``sql/validations/<name>.sql`` (``extra`` fills its ``${...}``
        placeholders, ``params`` its ``@`` query parameters, all STRING)."""
        sql = sqlfiles.render(f"{VALIDATIONS}/{name}.sql", self.settings, **extra)
        job_config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter(k, "STRING", v) for k, v in (params or {}).items()
            ]
        )
        return [dict(r.items()) for r in self.client.query_and_wait(sql, job_config=job_config)]
