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
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import grpc

from stkpi_tools.localstack.iam import rules_bigquery, rules_pubsub, rules_storage
from stkpi_tools.localstack.iam.policy import Check, NoRule, Policy

LOOPBACK = "127.0.0.1"
CHUNK = 256 * 1024
MAX_JSON_BODY = 64 * 1024 * 1024  # job configurations and upload metadata are small
MAX_METADATA_PREFIX = 8 * 1024 * 1024
POOL_IDLE_SECONDS = 3.0  # below uvicorn's 5 s keep-alive: never reuse a closing socket
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "expect",
    "content-length",
    "host",
}
SERVICES = ("storage", "bigquery", "pubsub")


# ---- decisions ------------------------------------------------------------------------------

_OUT = threading.Lock()


def emit(record: Mapping[str, Any]) -> None:
    """One JSON line on stdout, whole (threads never interleave their lines)."""
    line = json.dumps(record, sort_keys=True) + "\n"
    with _OUT:
        sys.stdout.write(line)
        sys.stdout.flush()


class Ledger:
    """Counts allowed calls and keeps the last 200 refusals (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.allowed = 0
        self.denied_total = 0
        self.denied: collections.deque[dict[str, Any]] = collections.deque(maxlen=200)

    def allow(self) -> None:
        with self._lock:
            self.allowed += 1

    def deny(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.denied_total += 1
            self.denied.append(record)
        emit({"event": "iam_denied", **record})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "allowed": self.allowed,
                "denied_total": self.denied_total,
                "denied": list(self.denied),
            }


def denial_message(member: str, permission: str, resource: str) -> str:
    return f"{member} does not have {permission} access to {resource}."


class Denied(Exception):
    def __init__(self, message: str, permission: str = "", resource: str = "") -> None:
        super().__init__(message)
        self.message, self.permission, self.resource = message, permission, resource


class JobOwners:
    """Which member started which BigQuery job (own jobs need only jobs.create)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: dict[tuple[str, str], str] = {}

    def record(self, project: str, job_id: str, member: str) -> None:
        with self._lock:
            self._owner.setdefault((project, job_id), member)

    def is_own(self, project: str, job_id: str, member: str) -> bool:
        with self._lock:
            owner = self._owner.get((project, job_id))
        return owner is None or owner == member  # unseen (started ungated): assume own


# ---- HTTP plumbing --------------------------------------------------------------------------


class Pool:
    """Keep-alive connections to one HTTP backend."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or LOOPBACK, int(parts.port or 80)
        self.origin = f"http://{self.host}:{self.port}"
        self._idle: list[tuple[http.client.HTTPConnection, float]] = []
        self._lock = threading.Lock()

    def get(self) -> tuple[http.client.HTTPConnection, bool]:
        """A connection and whether it was reused (a reused one may turn out closed)."""
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn, since = self._idle.pop()
            if now - since < POOL_IDLE_SECONDS and _usable(conn):
                return conn, True
            conn.close()
        return http.client.HTTPConnection(self.host, self.port, timeout=600), False

    def put(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._idle.append((conn, time.monotonic()))

    def request(
        self, method: str, path: str, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        """One small request (the gate's own lookups), retried once on a stale socket."""
        for attempt in (0, 1):
            conn, reused = self.get()
            try:
                conn.request(method, path, headers=dict(headers or {}))
                resp = conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                if reused and attempt == 0:
                    continue
                raise
            if resp.will_close:
                conn.close()
            else:
                self.put(conn)
            return resp.status, body
        raise AssertionError("unreachable")


def _usable(conn: http.client.HTTPConnection) -> bool:
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable  # an idle keep-alive socket has nothing to read unless it closed


class ClientGone(Exception):
    """The client closed its connection or sent a malformed body."""


class Body:
    """The request body as the client sends it (Content-Length or chunked), read lazily."""

    def __init__(self, rfile: Any, headers: Any) -> None:
        self.rfile = rfile
        self.chunked = "chunked" in (headers.get("Transfer-Encoding") or "").lower()
        length = headers.get("Content-Length")
        self.remaining = int(length) if length and not self.chunked else 0
        self.length = None if self.chunked else self.remaining
        self._chunk_left = 0
        self._done = not self.chunked and self.remaining == 0

    def read(self, size: int = CHUNK) -> bytes:
        if self._done:
            return b""
        try:
            return self._read(size)
        except (OSError, ValueError) as exc:
            raise ClientGone(str(exc)) from None

    def _read(self, size: int) -> bytes:
        if not self.chunked:
            data = self.rfile.read(min(size, self.remaining))
            if not data:
                raise ClientGone("client closed the connection mid-body")
            self.remaining -= len(data)
            self._done = self.remaining == 0
            return data
        if self._chunk_left == 0:
            line = self.rfile.readline(65537)
            size_text = line.split(b";", 1)[0].strip()
            if not size_text:
                raise ClientGone("bad chunked encoding")
            self._chunk_left = int(size_text, 16)
            if self._chunk_left == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._done = True
                return b""
        data = self.rfile.read(min(size, self._chunk_left))
        if not data:
            raise ClientGone("client closed the connection mid-chunk")
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self.rfile.readline(65537)
        return data

    def read_all(self, cap: int) -> bytes:
        parts, total = [], 0
        while chunk := self.read():
            parts.append(chunk)
            total += len(chunk)
            if total > cap:
                raise NoRule(f"iam gate: request body over {cap} bytes where the gate must read it")
        return b"".join(parts)

    def drain(self) -> None:
        while self.read():
            pass


def _boundary(content_type: str) -> bytes | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary":
            return value.strip().strip('"').encode()
    return None


def read_multipart_metadata(body: Body, content_type: str) -> tuple[dict[str, Any], bytes]:
    """The JSON metadata part (first part) of a multipart/related upload, and the bytes
    read so far (to forward before the rest of the stream)."""
    boundary = _boundary(content_type)
    if not boundary:
        raise NoRule("iam gate: multipart upload without a boundary")
    delim = b"--" + boundary
    buf = b""
    while True:
        start = buf.find(delim)
        if start >= 0:
            head_end = buf.find(b"\r\n\r\n", start)
            if head_end >= 0:
                end = buf.find(b"\r\n" + delim, head_end + 4)
                if end >= 0:
                    try:
                        meta = json.loads(buf[head_end + 4 : end] or b"{}")
                    except ValueError as exc:
                        raise NoRule(f"iam gate: multipart metadata is not JSON: {exc}") from None
                    return (meta if isinstance(meta, dict) else {}), buf
        if len(buf) > MAX_METADATA_PREFIX:
            raise NoRule("iam gate: multipart metadata part not found in the first 8 MB")
        chunk = body.read(64 * 1024)
        if not chunk:
            raise NoRule("iam gate: multipart body ended before its metadata part did")
        buf += chunk


def error_json(message: str, reason: str) -> bytes:
    return json.dumps(
        {
            "error": {
                "code": 403,
                "message": message,
                "status": "PERMISSION_DENIED",
                "errors": [{"message": message, "domain": "global", "reason": reason}],
            }
        }
    ).encode()


# ---- the gate -------------------------------------------------------------------------------


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
                    self._serve_http(_handler(self, member, service), ports[service])
            if "pubsub" in ports:
                self._serve_grpc(member, ports["pubsub"])
        self._serve_http(_health_handler(self), self.health_port)  # last: ready = all up

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
        for gserver in self._grpc:
            gserver.stop(grace=0.5)
        for server in self._http:
            server.shutdown()
            server.server_close()
        if self._channel is not None:
            self._channel.close()


# ---- HTTP proxy handler ---------------------------------------------------------------------


def _handler(gate: Gate, member: str, service: str) -> type[BaseHTTPRequestHandler]:
    class Handler(ProxyHandler):
        pass

    Handler.gate, Handler.member, Handler.service = gate, member, service
    Handler.pool = gate.pools[service]
    return Handler


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle on, each answer waits for the
    # client's delayed ACK (40 ms on Linux), which made every gated call 40 ms slower.
    disable_nagle_algorithm = True
    gate: Gate
    member: str
    service: str
    pool: Pool
    _rewrite_links = False

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._proxy()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # -- judging ------------------------------------------------------------------------------

    def _checks(
        self, method: str, path: str, query: dict[str, str], body: Body
    ) -> tuple[list[Check], bytes, dict[str, Any] | None]:
        """(checks, body bytes already read, parsed JSON/metadata or None)."""
        gate, rules = self.gate, (rules_storage if self.service == "storage" else rules_bigquery)
        need = rules.body_needed(method, path, query)
        prefix, parsed = b"", None
        if need == "json":
            prefix = body.read_all(MAX_JSON_BODY)
            try:
                parsed = json.loads(prefix) if prefix.strip() else {}
            except ValueError as exc:
                raise NoRule(f"iam gate: {method} {path}: body is not JSON ({exc})") from None
            if not isinstance(parsed, dict):
                raise NoRule(f"iam gate: {method} {path}: body is not a JSON object")
        elif need == "multipart":
            parsed, prefix = read_multipart_metadata(body, self.headers.get("Content-Type", ""))
        if self.service == "storage":
            checks = rules_storage.checks(
                method,
                path,
                query,
                project_of=gate.bucket_project,
                body=parsed,
                exists=gate.object_exists,
            )
        else:
            member = self.member
            checks = rules_bigquery.checks(
                method,
                path,
                query,
                body=parsed,
                table_exists=gate.table_exists,
                own_job=lambda p, j: gate.jobs.is_own(p, j, member),
                bucket_project=gate.bucket_project,
            )
        return checks, prefix, parsed

    def _proxy(self) -> None:
        method = self.command
        split = urlsplit(self.path)
        path = split.path
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        body = Body(self.rfile, self.headers)
        # fake-gcs writes its own address into mediaLink/selfLink and clients follow
        # mediaLink: JSON metadata answers are rewritten to lead back through the gate
        self._rewrite_links = (
            self.service == "storage"
            and path.startswith("/storage/v1/")
            and query.get("alt", "json") == "json"
        )
        try:
            try:
                checks, prefix, parsed = self._checks(method, path, query, body)
            except NoRule as exc:
                raise Denied(str(exc)) from None
            self.gate.judge(self.member, checks)
        except Denied as denied:
            self.gate.record_denial(self.member, self.service, method, path, denied)
            try:
                body.drain()
            except ClientGone:
                self.close_connection = True
                return
            reason = "accessDenied" if self.service == "bigquery" else "forbidden"
            self._reply(403, error_json(denied.message, reason))
            return
        except ClientGone:
            self.close_connection = True
            return
        except (OSError, http.client.HTTPException) as exc:  # a lookup at the backend failed
            self._bad_gateway(exc, body)
            return
        self.gate.ledger.allow()
        if self.gate.trace:
            self.gate.trace_line(self.member, self.service, method, self.path, checks)
        if self.service == "bigquery" and parsed and method == "POST":
            ref = parsed.get("jobReference") or {}
            if ref.get("jobId"):
                project = ref.get("projectId") or path.rstrip("/").split("/")[-2]
                self.gate.jobs.record(str(project), str(ref["jobId"]), self.member)
        self._forward(method, prefix, body)

    def _reply(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    # -- forwarding ---------------------------------------------------------------------------

    def _forward(self, method: str, prefix: bytes, body: Body) -> None:
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        fully_read = body._done
        has_body = bool(prefix) or body.chunked or "Content-Length" in self.headers
        for attempt in (0, 1):
            conn, reused = self.pool.get()
            try:
                conn.putrequest(method, self.path, skip_host=True, skip_accept_encoding=True)
                conn.putheader("Host", f"{self.pool.host}:{self.pool.port}")
                for key, value in headers:
                    conn.putheader(key, value)
                if fully_read:
                    if has_body:
                        conn.putheader("Content-Length", str(len(prefix)))
                    conn.endheaders(prefix if prefix else None)
                elif body.chunked:
                    conn.putheader("Transfer-Encoding", "chunked")
                    conn.endheaders()
                    if prefix:
                        conn.send(b"%x\r\n%s\r\n" % (len(prefix), prefix))
                    while chunk := body.read():
                        conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    conn.send(b"0\r\n\r\n")
                else:
                    conn.putheader("Content-Length", str(body.length))
                    conn.endheaders(prefix if prefix else None)
                    while chunk := body.read():
                        conn.send(chunk)
                resp = conn.getresponse()
            except ClientGone:
                conn.close()
                self.close_connection = True
                return
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if reused and fully_read and attempt == 0:
                    continue
                self._bad_gateway(exc, body)
                return
            try:
                self._relay(resp)
            except OSError:
                conn.close()
                self.close_connection = True
                return
            if resp.will_close:
                conn.close()
            else:
                self.pool.put(conn)
            return

    def _bad_gateway(self, exc: BaseException, body: Body) -> None:
        try:
            body.drain()
        except ClientGone:
            self.close_connection = True
            return
        payload = json.dumps(
            {"error": {"code": 502, "message": f"iam gate: backend failed: {exc}"}}
        ).encode()
        self.send_response(502)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _public_origin(self) -> bytes:
        return f"http://{LOOPBACK}:{self.server.server_address[1]}".encode()

    def _relay(self, resp: http.client.HTTPResponse) -> None:
        origin, public = self.pool.origin.encode(), self._public_origin()
        self.send_response_only(resp.status, resp.reason)
        ctype = resp.getheader("Content-Type") or ""
        no_body = self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        rewrite = not no_body and self._rewrite_links and "json" in ctype and origin != public
        for key, value in resp.getheaders():
            low = key.lower()
            if low in HOP_BY_HOP:
                continue
            if low == "location":
                value = value.replace(origin.decode(), public.decode())
            self.send_header(key, value)
        if no_body:
            length = resp.getheader("Content-Length")
            if length is not None:
                self.send_header("Content-Length", length)
            self.end_headers()
            resp.read()
            return
        if rewrite:
            payload = resp.read().replace(origin, public)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if resp.length is not None:
            self.send_header("Content-Length", str(resp.length))
            self.end_headers()
            while chunk := resp.read(CHUNK):
                self.wfile.write(chunk)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while chunk := resp.read1(CHUNK):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")


def _health_handler(gate: Gate) -> type[BaseHTTPRequestHandler]:
    class Health(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            payload = json.dumps(gate.ledger.snapshot()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Health


# ---- gRPC proxy (Pub/Sub) -------------------------------------------------------------------

_DROP_METADATA = ("user-agent", "content-type", "te")


class PubSubForwarder(grpc.GenericRpcHandler):
    """Judges each call by its (first) request, then relays raw bytes to the emulator."""

    def __init__(self, gate: Gate, member: str, channel: grpc.Channel) -> None:
        self.gate, self.member, self.channel = gate, member, channel

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = details.method
        if method in rules_pubsub.STREAMING:
            return grpc.stream_stream_rpc_method_handler(self._stream(method))
        return grpc.unary_unary_rpc_method_handler(self._unary(method))

    def _judge(self, method: str, payload: bytes, context: grpc.ServicerContext) -> None:
        try:
            try:
                checks = rules_pubsub.checks(method, payload)
            except NoRule as exc:
                raise Denied(str(exc)) from None
            self.gate.judge(self.member, checks)
        except Denied as denied:
            self.gate.record_denial(self.member, "pubsub", "gRPC", method, denied)
            context.abort(grpc.StatusCode.PERMISSION_DENIED, denied.message)
        self.gate.ledger.allow()
        if self.gate.trace:
            self.gate.trace_line(self.member, "pubsub", "gRPC", method, checks)

    @staticmethod
    def _metadata(context: grpc.ServicerContext) -> list[tuple[str, str | bytes]]:
        return [
            (k, v)
            for k, v in context.invocation_metadata()
            if not k.startswith((":", "grpc-")) and k not in _DROP_METADATA
        ]

    def _unary(self, method: str) -> Callable[[bytes, grpc.ServicerContext], bytes]:
        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            self._judge(method, request, context)
            call = self.channel.unary_unary(method)
            try:
                return call(
                    request, metadata=self._metadata(context), timeout=context.time_remaining()
                )
            except grpc.RpcError as exc:
                context.abort(exc.code(), exc.details() or "")
                raise  # not reached: abort raises

        return handle

    def _stream(
        self, method: str
    ) -> Callable[[Iterator[bytes], grpc.ServicerContext], Iterator[bytes]]:
        def handle(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
            first = next(requests, None)
            if first is None:
                return
            self._judge(method, first, context)

            def upstream_requests() -> Iterator[bytes]:
                yield first
                yield from requests

            call = self.channel.stream_stream(method)(
                upstream_requests(),
                metadata=self._metadata(context),
                timeout=context.time_remaining(),
            )
            context.add_callback(call.cancel)
            try:
                yield from call
            except grpc.RpcError as exc:
                if context.is_active() and exc.code() != grpc.StatusCode.CANCELLED:
                    context.abort(exc.code(), exc.details() or "")

        return handle


# ---- process --------------------------------------------------------------------------------


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
