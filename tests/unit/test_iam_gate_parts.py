"""The gate's pure parts: request bodies, Google's error shape, client environment."""

from __future__ import annotations

import io
import json

import pytest
from google.cloud.storage._media._upload import construct_multipart_request

from stkpi_tools.localstack.iam import NoRule, principal_env
from stkpi_tools.localstack.iam.decisions import Ledger, denial_message
from stkpi_tools.localstack.iam.http_io import Body, error_json, read_multipart_metadata


def body(data: bytes, **headers: str) -> Body:
    return Body(io.BytesIO(data), {k.replace("_", "-"): v for k, v in headers.items()})


def test_multipart_metadata_is_read_and_the_bytes_read_are_kept_for_forwarding() -> None:
    payload = b"\x1f\x8b" + bytes(range(256)) * 4000  # ~1 MB of media after the metadata
    content, boundary = construct_multipart_request(
        payload, {"name": "landing/jobs/page-00001.json.gz"}, "application/gzip"
    )
    ctype = f'multipart/related; boundary="{boundary.decode()}"'
    b = body(content, Content_Length=str(len(content)))
    meta, prefix = read_multipart_metadata(b, ctype)
    assert meta["name"] == "landing/jobs/page-00001.json.gz"
    assert len(prefix) < len(content)
    rest = b"".join(iter(b.read, b""))
    assert prefix + rest == content


def test_multipart_without_its_metadata_is_refused() -> None:
    with pytest.raises(NoRule, match="ended before"):
        read_multipart_metadata(
            body(b"--x\r\n\r\n{}", Content_Length="9"), "multipart/related; boundary=x"
        )
    with pytest.raises(NoRule, match="boundary"):
        read_multipart_metadata(body(b"", Content_Length="0"), "multipart/related")


def test_chunked_bodies_are_decoded() -> None:
    raw = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
    b = body(raw, Transfer_Encoding="chunked")
    assert b.read_all(100) == b"hello world"
    assert b.read() == b""
    with pytest.raises(NoRule, match="over 4 bytes"):
        body(raw, Transfer_Encoding="chunked").read_all(4)


def test_denials_use_googles_error_shape() -> None:
    message = denial_message(
        "serviceAccount:a@p.iam", "bigquery.tables.create", "projects/p/datasets/d"
    )
    assert (
        message
        == "serviceAccount:a@p.iam does not have bigquery.tables.create access to projects/p/datasets/d."
    )
    err = json.loads(error_json(message, "accessDenied"))["error"]
    assert err["code"] == 403 and err["status"] == "PERMISSION_DENIED"
    assert err["errors"] == [{"message": message, "domain": "global", "reason": "accessDenied"}]


def test_ledger_keeps_the_last_200_denials(capsys: pytest.CaptureFixture[str]) -> None:
    ledger = Ledger()
    for i in range(250):
        ledger.deny({"member": "m", "permission": f"p{i}"})
    ledger.allow()
    snap = ledger.snapshot()
    assert snap["allowed"] == 1 and snap["denied_total"] == 250
    assert len(snap["denied"]) == 200 and snap["denied"][-1]["permission"] == "p249"
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 250 and json.loads(lines[0])["event"] == "iam_denied"


def test_principal_env_points_each_client_at_its_gate_ports() -> None:
    env = principal_env({"storage": 1001, "bigquery": 1002, "pubsub": 1003})
    assert env["STORAGE_EMULATOR_HOST"] == "http://127.0.0.1:1001"
    assert env["BIGQUERY_EMULATOR_HOST"] == "http://127.0.0.1:1002"
    assert env["PUBSUB_EMULATOR_HOST"] == "127.0.0.1:1003"
    assert env["DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA"] == "true"
