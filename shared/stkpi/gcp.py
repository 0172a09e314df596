"""Official Google clients, built once per process, pointed at emulators when asked.

Locally the same clients talk to emulators; only endpoints differ, via environment:
``PUBSUB_EMULATOR_HOST`` and ``STORAGE_EMULATOR_HOST`` are honoured by the client libraries
themselves; BigQuery has no such variable in its client, so ``BIGQUERY_EMULATOR_HOST``
(``http://127.0.0.1:PORT``) is read here. With an emulator, anonymous credentials are used
so nothing ever looks for a cloud account.
"""

from __future__ import annotations

import os

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, pubsub_v1, storage

from stkpi.config import Settings


def _emulated(var: str) -> str | None:
    value = os.environ.get(var, "").strip()
    return value or None


def storage_client(settings: Settings) -> storage.Client:
    host = _emulated("STORAGE_EMULATOR_HOST")
    if host:
        return storage.Client(
            project=settings.gcp_project,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=host),
        )
    return storage.Client(project=settings.gcp_project)


def bigquery_client(settings: Settings) -> bigquery.Client:
    host = _emulated("BIGQUERY_EMULATOR_HOST")
    if host:
        return bigquery.Client(
            project=settings.gcp_project,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=host),
            location=settings.bq_location,
        )
    return bigquery.Client(project=settings.gcp_project, location=settings.bq_location)


def publisher(settings: Settings) -> pubsub_v1.PublisherClient:
    """Publisher; ``PUBSUB_EMULATOR_HOST`` makes the library use an insecure local channel."""
    return pubsub_v1.PublisherClient()


def topic_path(settings: Settings, topic: str) -> str:
    return f"projects/{settings.gcp_project}/topics/{topic}"
