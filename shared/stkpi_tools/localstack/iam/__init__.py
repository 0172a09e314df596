"""Local IAM: each principal is judged by its grants, as Google would, in front of the
emulators (which allow everything).

- ``policy``: ``Grant``, ``Policy`` (``allows``, ``missing``), ``load_roles`` (roles.json).
- ``rules_storage`` / ``rules_bigquery`` / ``rules_pubsub``: call -> IAM checks (pure).
- ``gate``: the proxy process (``python -m stkpi_tools.localstack.iam.gate CONFIG.json``);
  its HTTP side ``http_proxy`` (on ``http_io``), its gRPC side ``grpc_proxy``, what it
  decided and counts ``decisions``.
- ``start_gate`` / ``gate_ports`` / ``principal_env``: start it like the other local
  services, a member's ports on it, and the client environment that makes one
  principal's calls go through it.

Where the gate only approximates Google:
- "own job" (jobs.get / getQueryResults / cancel with only ``bigquery.jobs.create``) is
  the gate's record of who inserted the job id; a job it never saw counts as the caller's.
- Whether a write replaces an object, or a CREATE_IF_NEEDED job creates a table, is asked
  of the emulator just before forwarding (a concurrent writer can change the answer).
- A name in SQL is checked as a table: reading a view needs ``getData`` on the view only
  (Google also checks the view's tables unless it is an authorized view); calls of
  persistent UDFs (``routines.get``) are not checked; BigQuery scripting blocks
  (BEGIN...END, IF, LOOP, CALL, EXECUTE IMMEDIATE) and legacy SQL are refused as unjudgeable.
- datasets.list and projects.list are forwarded unfiltered (Google filters, never refuses).
- Refusals use the message "<member> does not have <permission> access to <resource>."
  with Google's status, code and reason, not Google's exact wording; the request body is
  drained before the 403 is sent.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stkpi_tools.localstack.iam.policy import Grant, NoRule, Policy, PolicyError, load_roles
from stkpi_tools.localstack.ports import LOOPBACK, free_port
from stkpi_tools.localstack.process import Service, http_ok, spawn, start_on_fresh_ports, tcp_open

__all__ = [
    "STORAGE_TELEMETRY_PROBE",
    "Grant",
    "NoRule",
    "Policy",
    "PolicyError",
    "gate_ledger",
    "gate_ports",
    "load_roles",
    "principal_env",
    "start_gate",
]

CONFIG_FILE = "iam-gate.json"
GATED = ("storage", "bigquery", "pubsub")  # the emulators a principal reaches through the gate


# google-cloud-storage >= 3.x fetches bucket metadata (buckets.get) in a background thread
# to label its telemetry spans, and swallows the 403 a principal without storage.buckets.get
# gets (as on Google). Turned off for gated principals so the gate's list of refusals holds
# only refusals the code sees.
STORAGE_TELEMETRY_PROBE = "DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA"


def principal_env(ports: Mapping[str, int]) -> dict[str, str]:
    """Client environment of one principal: its gate ports (``stkpi.gcp`` reads these),
    plus the switch that stops google-cloud-storage's background buckets.get probe."""
    return {
        "STORAGE_EMULATOR_HOST": f"http://{LOOPBACK}:{int(ports['storage'])}",
        "BIGQUERY_EMULATOR_HOST": f"http://{LOOPBACK}:{int(ports['bigquery'])}",
        "PUBSUB_EMULATOR_HOST": f"{LOOPBACK}:{int(ports['pubsub'])}",
        STORAGE_TELEMETRY_PROBE: "true",
    }


@start_on_fresh_ports
def start_gate(
    root: Path,
    config: Mapping[str, Any],
    members: Sequence[str],
    *,
    detached: bool = False,
    timeout: float = 30.0,
) -> Service:
    """Start the gate for ``members`` on ``config`` (its ``policy`` and ``backends``),
    written with the ports picked here to ``<root>/iam-gate.json``.

    ``Service.port`` is the health port; ``Service.extra_ports`` names every principal
    port as ``"<service>:<member>"`` (``gate_ports`` reads one member's); the log
    (``<root>/iam-gate.log``) has one JSON line per refusal.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    health = free_port()
    principals = {m: {service: free_port() for service in GATED} for m in members}
    path = root / CONFIG_FILE
    full = {**config, "principals": principals, "health_port": health}
    path.write_text(json.dumps(full, indent=1, sort_keys=True))
    ports = {
        f"{service}:{member}": port
        for member, by_service in principals.items()
        for service, port in by_service.items()
    }

    def ready() -> bool:
        return http_ok(f"http://{LOOPBACK}:{health}/") and all(tcp_open(p) for p in ports.values())

    return spawn(
        "iam-gate",
        [sys.executable, "-m", "stkpi_tools.localstack.iam.gate", str(path)],
        port=health,
        log_dir=root,
        ready=ready,
        timeout=timeout,
        env={"PYTHONUNBUFFERED": "1"},
        client_env={},
        detached=detached,
        extra_ports=ports,
    )


def gate_ports(gate: Service, member: str) -> dict[str, int]:
    """The gate's ports for ``member``: ``{"storage": port, "bigquery": port, "pubsub": port}``."""
    return {service: gate.extra_ports[f"{service}:{member}"] for service in GATED}


def gate_ledger(health_port: int) -> dict[str, Any]:
    """The gate's counters: ``{"allowed": n, "denied_total": n, "denied": [...]}``."""
    with urllib.request.urlopen(f"http://{LOOPBACK}:{health_port}/", timeout=5) as resp:
        return json.loads(resp.read())
