"""The gate's HTTP side (Cloud Storage and BigQuery REST): one handler class per principal
and service judges each request by ``rules_storage`` / ``rules_bigquery`` (reading the body
first when the rule needs it), answers a refusal as Google does, and streams an allowed
request to the emulator and its answer back (a mutating DML statement only while its
table's DML queue has a place: ``dml_queue``); plus the health handler serving the ledger.
"""

from __future__ import annotations

import http.client
import json
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from stkpi_tools.localstack.iam import rules_bigquery, rules_storage
from stkpi_tools.localstack.iam.decisions import Denied
from stkpi_tools.localstack.iam.dml_queue import Table, TooManyDml, mutating_targets, query_of
from stkpi_tools.localstack.iam.dml_queue import error_json as dml_error_json
from stkpi_tools.localstack.iam.http_io import (
    CHUNK,
    HOP_BY_HOP,
    LOOPBACK,
    Body,
    ClientGone,
    Pool,
    error_json,
    read_multipart_metadata,
)
from stkpi_tools.localstack.iam.policy import Check, NoRule

if TYPE_CHECKING:
    from stkpi_tools.localstack.iam.gate import Gate

MAX_JSON_BODY = 64 * 1024 * 1024  # job configurations and upload metadata are small


def proxy_handler(gate: Gate, member: str, service: str) -> type[BaseHTTPRequestHandler]:
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
        dml = self._mutating_dml(method, path, parsed)
        try:
            self.gate.dml.acquire(dml)
        except TooManyDml as exc:  # BigQuery's queue for the table is full: refused
            try:
                body.drain()
            except ClientGone:
                self.close_connection = True
                return
            self._reply(400, dml_error_json(exc))
            return
        try:
            self._forward(method, prefix, body)
        finally:
            self.gate.dml.release(dml)

    def _mutating_dml(
        self, method: str, path: str, parsed: dict[str, Any] | None
    ) -> tuple[Table, ...]:
        """The tables an UPDATE, DELETE or MERGE of this request writes (``dml_queue``)."""
        if self.service != "bigquery" or method != "POST":
            return ()
        query = query_of(path, parsed)
        return mutating_targets(*query) if query is not None else ()

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


def health_handler(gate: Gate) -> type[BaseHTTPRequestHandler]:
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
