"""The Cloud Run front door of each local function server: capacity, and the push envelope.

On Google Cloud a gen2 function is a Cloud Run service: it runs at most
``max_instance_count`` instances of ``max_instance_request_concurrency`` requests each
(terraform/functions.tf), and a request beyond that is refused with 429, which Pub/Sub
counts as a failed delivery attempt. A local function server (one gunicorn process with
threads) would instead queue every request, hiding the capacity a design must live within.
This front sits between Pub/Sub (the emulator's push, or the dispatcher) and each function
server and refuses what Cloud Run would refuse, so the local stack fails where the cloud
would.

It also fills in ``deliveryAttempt``: Pub/Sub puts it in every push envelope of a
subscription with a dead-letter policy, but the emulator's push omits it
(docs/EMULATOR_GAPS.md). The front counts the attempts of each message per subscription,
refusals included, as Pub/Sub does; it outlives the function servers, so a function
process killed mid-delivery does not reset the count. An envelope that carries the field
(the dispatcher's) is passed on unchanged.

Run: ``python -m stkpi_tools.localstack.front CONFIG.json`` (written by ``Stack``); its
counters are served as JSON on ``http://127.0.0.1:<health_port>/``.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from stkpi_tools.localstack.process import serve_until_signalled
from stkpi_tools.localstack.together import at_once

log = logging.getLogger("stkpi.front")

# What Cloud Run answers when every instance is busy.
REFUSED_BODY = b"Rate exceeded: the request was aborted because there was no available instance."


@dataclass
class Door:
    """One function's front door: its capacity and what happened at it."""

    name: str
    backend: str  # http://127.0.0.1:PORT of the function server
    capacity: int  # max_instance_count x max_instance_request_concurrency
    timeout: float  # the function's timeout: Cloud Run cuts a request there
    in_flight: int = 0
    stats: Counter[str] = field(default_factory=Counter)
    attempts: dict[tuple[str, str], int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self) -> bool:
        with self.lock:
            if self.in_flight >= self.capacity:
                self.stats["refused_429"] += 1
                return False
            self.in_flight += 1
            self.stats["admitted"] += 1
            self.stats["peak_in_flight"] = max(self.stats["peak_in_flight"], self.in_flight)
            return True

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def with_attempt(self, body: bytes) -> tuple[bytes, tuple[str, str] | None]:
        """The body with ``deliveryAttempt`` filled in as Pub/Sub would; the key under
        which this message's attempts are counted (None when the body had the field)."""
        try:
            envelope = json.loads(body)
            message = envelope["message"]
            key = (str(envelope.get("subscription", "")), str(message.get("messageId")))
        except (ValueError, KeyError, TypeError, AttributeError):
            return body, None  # not an envelope: the function answers 400 itself
        if envelope.get("deliveryAttempt") is not None:
            return body, None
        with self.lock:
            attempt = self.attempts.get(key, 0) + 1
            self.attempts[key] = attempt
        envelope["deliveryAttempt"] = attempt
        return json.dumps(envelope).encode(), key

    def settled(self, key: tuple[str, str] | None, status: int) -> None:
        if key is not None and 200 <= status < 300:
            with self.lock:
                self.attempts.pop(key, None)  # acked: Pub/Sub forgets it too

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"capacity": self.capacity, "in_flight": self.in_flight, **self.stats}


def forward(door: Door, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST to the function server on a fresh connection (a kept-alive one can be closed
    by gunicorn just as it is reused: stkpi_tools.localstack.dispatcher.post_event)."""
    url = urlsplit(door.backend)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=door.timeout)
    try:
        conn.request("POST", path, body=body, headers={**headers, "Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    except OSError as exc:  # the function process is gone (or timed out)
        door.stats["unreachable"] += 1
        return 503, f"function server unreachable: {exc}".encode()
    finally:
        conn.close()


def _handler(door: Door) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # no 40 ms wait for a delayed ACK per answer

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body, key = door.with_attempt(body)
            if not door.admit():
                self._answer(429, REFUSED_BODY)
                return
            try:
                headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
                for name, value in self.headers.items():
                    if name.lower().startswith("ce-"):
                        headers[name] = value
                status, answer = forward(door, self.path, body, headers)
            finally:
                door.leave()
            door.settled(key, status)
            self._answer(status, answer)

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _stats_handler(doors: dict[str, Door]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({name: d.snapshot() for name, d in doors.items()}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def serve(config: dict[str, Any]) -> list[ThreadingHTTPServer]:
    """Start every door and the stats endpoint; returns the servers (to shut down)."""
    doors = {
        name: Door(
            name=name,
            backend=spec["backend"],
            capacity=int(spec["capacity"]),
            timeout=float(spec["timeout"]),
        )
        for name, spec in config["functions"].items()
    }
    servers = []
    for name, door in doors.items():
        server = ThreadingHTTPServer(
            ("127.0.0.1", int(config["functions"][name]["port"])), _handler(door)
        )
        server.daemon_threads = True
        servers.append(server)
    stats = ThreadingHTTPServer(("127.0.0.1", int(config["health_port"])), _stats_handler(doors))
    servers.append(stats)
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return servers


def _start(config: dict) -> list[Callable[[], None]]:
    servers = serve(config)
    log.info("front doors open: %s", json.dumps(config["functions"]))
    return [lambda: at_once(server.shutdown for server in servers)]


def main(argv: list[str] | None = None) -> None:
    serve_until_signalled(argv, _start)


if __name__ == "__main__":
    main()
