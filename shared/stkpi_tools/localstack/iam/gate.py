"""The IAM gate: a proxy in front of the emulators that refuses what IAM would refuse.

``python -m stkpi_tools.localstack.iam.gate CONFIG.json`` with::

    {"policy": Policy.to_json(),
     "backends": {"storage": "http://127.0.0.1:P", "bigquery": "http://127.0.0.1:P",
                  "pubsub": "127.0.0.1:P"},
     "principals": {"<member>": {"storage": port, "bigquery": port, "pubsub": port}, ...},
     "health_port": port,
     "project": "p"}            # optional: the project of buckets no grant names

Each principal gets one port per service, so the port tells who is calling. Every call is
mapped to the checks Google makes (``rules_*``); a call that fails one is answered as
Google answers (HTTP 403 ``PERMISSION_DENIED`` JSON, or gRPC ``PERMISSION_DENIED``), any
other is forwarded unchanged and its answer streamed back. A call without a rule is
refused too ("iam gate: no rule for ..."), so a new kind of call shows up in tests instead
of passing silently. Each refusal is one JSON line on stdout; ``GET /`` on the health port
returns ``{"allowed": n, "denied": [the last 200 refusals]}``.

This module is the process (``Gate``: its servers, the lookups rules ask of the emulators,
``main``); the HTTP side is ``http_proxy`` (on ``http_io``), the gRPC side ``grpc_proxy``,
what it decided and counts ``decisions``.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import grpc

from stkpi_tools.localstack.iam.decisions import (
    Denied,
    JobOwners,
    Ledger,
    denial_message,
    emit,
)
from stkpi_tools.localstack.iam.dml_queue import DmlQueue
from stkpi_tools.localstack.iam.grpc_proxy import PubSubForwarder
from stkpi_tools.localstack.iam.http_io import LOOPBACK, Pool
from stkpi_tools.localstack.iam.http_proxy import health_handler, proxy_handler
from stkpi_tools.localstack.iam.policy import Check, Policy
from stkpi_tools.localstack.together import at_once


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client never blocks the gate's exit
    request_queue_size = 256  # function servers open many connections at once


class Gate:
    def __init__(self, config: Mapping[str, Any]) -> None:
        self.policy = Policy.from_json(config["policy"])
        self.backends = dict(config["backends"])
        self.principals: dict[str, dict[str, int]] = {
            m: {k: int(v) for k, v in ports.items()} for m, ports in config["principals"].items()
        }
        self.health_port = int(config["health_port"])
        self.project = str(config.get("project") or self._guess_project())
        self.ledger = Ledger()
        self.jobs = JobOwners()
        self.dml = DmlQueue()
        self.trace = os.environ.get("STKPI_IAM_GATE_TRACE", "") not in ("", "0")
        self.pools = {
            n: Pool(self.backends[n]) for n in ("storage", "bigquery") if n in self.backends
        }
        self._http: list[ThreadingHTTPServer] = []
        self._grpc: list[grpc.Server] = []
        self._channel: grpc.Channel | None = None
        self._threads: list[threading.Thread] = []

    def _guess_project(self) -> str:
        counts = collections.Counter(
            g.resource.split("/")[1]
            for g in self.policy.grants
            if g.resource.startswith("projects/")
        )
        return counts.most_common(1)[0][0] if counts else "_"

    def bucket_project(self, bucket: str) -> str:
        return self.policy.bucket_project(bucket) or self.project

    # -- lookups the rules ask for (as the emulator's owner, never as the caller) ---------

    def object_exists(self, bucket: str, name: str) -> bool:
        path = f"/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}?fields=name"
        status, _ = self.pools["storage"].request("GET", path)
        return status == 200

    def table_exists(self, project: str, dataset: str, table: str) -> bool:
        path = "/bigquery/v2/projects/{}/datasets/{}/tables/{}".format(
            *(quote(x, safe="") for x in (project, dataset, table))
        )
        status, _ = self.pools["bigquery"].request("GET", path)
        return status == 200

    # -- decisions --------------------------------------------------------------------------

    def trace_line(
        self, member: str, service: str, method: str, path: str, checks: list[Check]
    ) -> None:
        """With ``STKPI_IAM_GATE_TRACE=1``: one JSON line per allowed call and its checks."""
        emit(
            {"event": "iam_allowed", "member": member, "service": service}
            | {"method": method, "path": path, "checks": checks}
        )

    def judge(self, member: str, checks: list[Check]) -> None:
        missing = self.policy.missing(member, checks)
        if missing:
            permission, resource = missing[0]
            raise Denied(denial_message(member, permission, resource), permission, resource)

    def record_denial(
        self, member: str, service: str, method: str, path: str, denied: Denied
    ) -> None:
        self.ledger.deny(
            {
                "member": member,
                "service": service,
                "permission": denied.permission,
                "resource": denied.resource,
                "method": method,
                "path": path,
                "message": denied.message,
                "time": time.time(),
            }
        )

    # -- servers ------------------------------------------------------------------------------

    def start(self) -> None:
        for member, ports in self.principals.items():
            for service in ("storage", "bigquery"):
                if service in ports:
                    self._serve_http(proxy_handler(self, member, service), ports[service])
            if "pubsub" in ports:
                self._serve_grpc(member, ports["pubsub"])
        self._serve_http(health_handler(self), self.health_port)  # last: ready = all up

    def _serve_http(self, handler: type[BaseHTTPRequestHandler], port: int) -> None:
        server = _Server((LOOPBACK, port), handler)
        thread = threading.Thread(target=server.serve_forever, name=f"http-{port}", daemon=True)
        thread.start()
        self._http.append(server)
        self._threads.append(thread)

    def _serve_grpc(self, member: str, port: int) -> None:
        if self._channel is None:
            self._channel = grpc.insecure_channel(
                self.backends["pubsub"],
                options=[
                    ("grpc.max_send_message_length", -1),
                    ("grpc.max_receive_message_length", -1),
                ],
            )
        server = grpc.server(
            ThreadPoolExecutor(max_workers=64, thread_name_prefix=f"grpc-{port}"),
            options=[
                ("grpc.max_send_message_length", -1),
                ("grpc.max_receive_message_length", -1),
                ("grpc.so_reuseport", 0),
            ],
        )
        server.add_generic_rpc_handlers((PubSubForwarder(self, member, self._channel),))
        if server.add_insecure_port(f"{LOOPBACK}:{port}") != port:
            raise OSError(f"iam gate: cannot bind gRPC port {port}")
        server.start()
        self._grpc.append(server)

    def stop(self) -> None:
        # Every server at once: one by one, each HTTP server's poll interval and each gRPC
        # server's grace added up to ~4 s for every stack stop.
        at_once(
            [lambda g=g: g.stop(grace=0.5).wait() for g in self._grpc]
            + [lambda s=s: (s.shutdown(), s.server_close()) for s in self._http]
        )
        if self._channel is not None:
            self._channel.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m stkpi_tools.localstack.iam.gate CONFIG.json", file=sys.stderr)
        return 2
    config = json.loads(Path(args[0]).read_text())
    gate = Gate(config)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    gate.start()
    emit(
        {
            "event": "iam_gate_ready",
            "principals": gate.principals,
            "health_port": gate.health_port,
            "grants": len(gate.policy.grants),
        }
    )
    while not stop.wait(0.2):
        pass
    gate.stop()
    final = gate.ledger.snapshot()
    emit(
        {"event": "iam_gate_stopped", "allowed": final["allowed"], "denied": final["denied_total"]}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
