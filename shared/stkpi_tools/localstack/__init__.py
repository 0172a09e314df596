"""The local stack: emulators, the ServiceTitan simulator and function servers.

Lower-level starters (``start_bigquery``, ``start_gcs``, ``start_pubsub``) can be used
alone; ``Stack`` starts and wires everything; ``provision`` creates the bucket, datasets,
tables, topics and subscriptions.
"""

from stkpi_tools.localstack.ports import free_port
from stkpi_tools.localstack.process import Service, ServiceError
from stkpi_tools.localstack.provision import provision
from stkpi_tools.localstack.services import (
    DEFAULT_PROJECT,
    start_bigquery,
    start_function,
    start_gcs,
    start_pubsub,
    start_simulator,
)
from stkpi_tools.localstack.stack import Stack
from stkpi_tools.localstack.stack_info import StackInfo

__all__ = [
    "DEFAULT_PROJECT",
    "Service",
    "ServiceError",
    "Stack",
    "StackInfo",
    "free_port",
    "provision",
    "start_bigquery",
    "start_function",
    "start_gcs",
    "start_pubsub",
    "start_simulator",
]
