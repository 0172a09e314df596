"""The gate's HTTP plumbing, free of any IAM decision: keep-alive connections to a backend,
the client's request body read lazily (Content-Length or chunked), the metadata part of a
multipart upload, and Google's 403 JSON error body.
"""

from __future__ import annotations

import http.client
import json
import select
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from stkpi_tools.localstack.iam.policy import NoRule

LOOPBACK = "127.0.0.1"
CHUNK = 256 * 1024
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
