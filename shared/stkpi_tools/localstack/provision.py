"""Create what terraform apply would: bucket, datasets, tables, topics, subscriptions.

This is the deploy's part, so it talks to the emulators directly (no IAM gate), as
Terraform's own credentials would. Idempotent: existing resources are kept. Clients come
from ``stkpi.gcp`` (so the ``*_EMULATOR_HOST`` variables in ``os.environ`` decide where
they point).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

from google.api_core.exceptions import Conflict

from stkpi import gcp
from stkpi.config import Settings
from stkpi_tools.localstack import wiring
from stkpi_tools.terraform.topology import Topology


@contextlib.contextmanager
def patched_environ(env: Mapping[str, str]) -> Iterator[None]:
    """Temporarily set ``env`` in ``os.environ`` (client libraries read it at build time)."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ensure_bucket(settings: Settings) -> None:
    client = gcp.storage_client(settings)
    if client.lookup_bucket(settings.landing_bucket) is None:
        with contextlib.suppress(Conflict):
            client.create_bucket(settings.landing_bucket)


def ensure_warehouse(settings: Settings) -> None:
    """Datasets of every layer, then raw and ops tables (``warehouse.ensure_tables``)."""
    from stkpi.warehouse import ensure_tables

    client = gcp.bigquery_client(settings)
    try:
        ensure_tables(client, settings)
    finally:
        client.close()


def ensure_tenant_datasets(settings: Settings, topology: Topology) -> None:
    """Each added tenant's datasets, as terraform makes them (bigquery.tf, var.tenants);
    their tables are `stkpi tenant add`'s (stkpi.warehouse.ensure_tables)."""
    from google.cloud import bigquery as bq

    client = gcp.bigquery_client(settings)
    try:
        for layers in topology.tenant_datasets.values():
            for dataset_id in layers.values():
                dataset = bq.Dataset(f"{settings.gcp_project}.{dataset_id}")
                dataset.location = settings.bq_location
                client.create_dataset(dataset, exists_ok=True)
    finally:
        client.close()


def provision(
    settings: Settings,
    topology: Topology | None = None,
    *,
    endpoints: Mapping[str, str] | None = None,
    mode: str = "push",
    storage: bool = True,
    bigquery: bool = True,
    pubsub: bool = True,
    env: Mapping[str, str] | None = None,
) -> dict[str, dict[str, str]]:
    """Create bucket, datasets (all layers; each added tenant's too), raw/ops tables,
    topics and subscriptions.

    ``endpoints`` (function name -> push URL) and ``mode`` (``push`` | ``pull``) are passed
    to ``wiring.wire``; ``env`` (emulator hosts) is applied to ``os.environ`` meanwhile.
    Returns the Pub/Sub paths per function.
    """
    with patched_environ(env or {}):
        if storage:
            ensure_bucket(settings)
        if bigquery:
            ensure_warehouse(settings)
            if topology is not None:
                ensure_tenant_datasets(settings, topology)
        if pubsub:
            if topology is None:
                raise ValueError("wiring Pub/Sub needs the topology (stkpi_tools.terraform)")
            return wiring.wire(topology, endpoints=endpoints, mode=mode)
    return {}
