"""The local stack: emulators, the ServiceTitan simulator and function servers.

Lower-level starters (``start_bigquery``, ``start_gcs``, ``start_pubsub``) can be used
alone; ``Stack`` starts and wires everything; ``provision.provision`` creates the bucket,
datasets, tables, topics and subscriptions (not exported here: the name is its module's,
which the package attribute becomes once anything imports it).
"""

from __future__ import annotations

import importlib
from typing import Any

# Names this package exports -> the module that defines them. Imported on first use: the
# services started as ``python -m stkpi_tools.localstack.<service>`` (the front doors, the
# IAM gate, the BigQuery launcher) would otherwise each import the Google clients
# through ``provision`` (~1.5 CPU-seconds a process) without using them.
_EXPORTS = {
    "DEFAULT_PROJECT": "stkpi_tools.localstack.services",
    "Service": "stkpi_tools.localstack.process",
    "ServiceError": "stkpi_tools.localstack.process",
    "Stack": "stkpi_tools.localstack.stack",
    "StackInfo": "stkpi_tools.localstack.stack_info",
    "free_port": "stkpi_tools.localstack.ports",
    "start_bigquery": "stkpi_tools.localstack.services",
    "start_function": "stkpi_tools.localstack.services",
    "start_gcs": "stkpi_tools.localstack.services",
    "start_pubsub": "stkpi_tools.localstack.services",
    "start_simulator": "stkpi_tools.localstack.services",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
