"""Official Google clients, built once per process, pointed at emulators when asked.

Locally the same clients talk to emulators; only endpoints differ, via environment:
``PUBSUB_EMULATOR_HOST`` and ``STORAGE_EMULATOR_HOST`` are honoured by the client libraries
themselves; BigQuery has no such variable in its client, so ``BIGQUERY_EMULATOR_HOST``
(``http://127.0.0.1:PORT``) is read here. With an emulator, anonymous credentials are used
so nothing ever looks for a cloud account.
"""

from __future__ import annotations

import os
from typing import Any

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, pubsub_v1, storage

from stkpi.config import Settings


def _emulator(var: str) -> dict[str, Any]:
    """The client arguments that point a client at the emulator named by ``var`` (anonymous
    credentials, its endpoint), or none when ``var`` is unset or blank."""
    host = os.environ.get(var, "").strip()
    if not host:
        return {}
    return {
        "credentials": AnonymousCredentials(),
        "client_options": ClientOptions(api_endpoint=host),
    }


def storage_client(settings: Settings) -> storage.Client:
    return storage.Client(project=settings.gcp_project, **_emulator("STORAGE_EMULATOR_HOST"))


def bigquery_client(settings: Settings) -> bigquery.Client:
    return bigquery.Client(
        project=settings.gcp_project,
        location=settings.bq_location,
        **_emulator("BIGQUERY_EMULATOR_HOST"),
    )


def publisher(settings: Settings) -> pubsub_v1.PublisherClient:
    """Publisher; ``PUBSUB_EMULATOR_HOST`` makes the library use an insecure local channel."""
    return pubsub_v1.PublisherClient()


def topic_path(settings: Settings, topic: str) -> str:
    return f"projects/{settings.gcp_project}/topics/{topic}"
