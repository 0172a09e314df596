"""``stkpi_tools.localstack`` exports its names on first use, so a service started as
``python -m stkpi_tools.localstack.<service>`` imports only what that service needs."""

from __future__ import annotations

import subprocess
import sys

import pytest

import stkpi_tools.localstack as localstack


@pytest.mark.parametrize("name", localstack.__all__)
def test_every_export_resolves_to_what_its_module_defines(name: str) -> None:
    import importlib

    module = importlib.import_module(localstack._EXPORTS[name])
    assert getattr(localstack, name) is getattr(module, name)
    assert name in dir(localstack)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Stak'"):
        _ = localstack.Stak


@pytest.mark.parametrize(
    "service",
    ["stkpi_tools.localstack.front", "stkpi_tools.localstack.iam.gate",
     "stkpi_tools.localstack.bq_server"],
)  # fmt: skip
def test_a_service_module_does_not_import_the_google_clients(service: str) -> None:
    # The front doors and the IAM gate only relay HTTP; the BigQuery launcher imports
    # bqemulator. Through an eager package __init__ each paid ~1.5 CPU-seconds at start
    # for google.cloud.bigquery, storage and pubsub, which none of them uses.
    code = (
        f"import sys, {service}; "
        "print(sorted(m for m in ('google.cloud.bigquery', 'google.cloud.storage', "
        "'google.cloud.pubsub_v1') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_no_export_is_named_like_a_submodule() -> None:
    # Importing a submodule sets the package attribute of its name to the module, which
    # would shadow a lazy export of the same name (as `provision` did).
    import pkgutil

    submodules = {m.name for m in pkgutil.iter_modules(localstack.__path__)}
    assert "provision" in submodules
    assert not set(localstack.__all__) & submodules
