"""The local stack: emulators, the ServiceTitan simulator and function servers.

Lower-level starters (``start_bigquery``, ``start_gcs``, ``start_pubsub``) can be used
alone; ``Stack`` starts and wires everything.
"""

from stkpi.localstack.process import Service, ServiceError, free_port
from stkpi.localstack.services import (
    DEFAULT_PROJECT,
    start_bigquery,
    start_function,
    start_gcs,
    start_pubsub,
    start_simulator,
)

__all__ = [
    "DEFAULT_PROJECT",
    "Service",
    "ServiceError",
    "free_port",
    "start_bigquery",
    "start_function",
    "start_gcs",
    "start_pubsub",
    "start_simulator",
]
