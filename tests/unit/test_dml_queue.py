"""BigQuery's concurrent DML limit at the gate (stkpi_tools.localstack.iam.dml_queue).

BigQuery runs 2 mutating DML statements on a table and queues 20 more; the next is refused.
The gate counts a statement from the moment it is sent to the moment it is answered, so
here it stands in front of a backend that holds every answer until the test lets go: 22
MERGEs into one table wait there, the 23rd is refused at once with BigQuery's error, and
statements on another table, reads and the next MERGE after an answer are let through.
Everything runs in this process on loopback ports; no emulator, no wall-clock race.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stkpi_tools.localstack.iam import Grant, Policy, load_roles
from stkpi_tools.localstack.iam.dml_queue import (
    OUTSTANDING,
    DmlQueue,
    TooManyDml,
    mutating_targets,
    query_of,
)
from stkpi_tools.localstack.iam.gate import Gate
from stkpi_tools.localstack.ports import free_port

P, DS = "p", "ds"
MEMBER = "serviceAccount:loader@p.iam.gserviceaccount.com"


def test_only_update_delete_and_merge_hold_a_place_on_the_table_they_write() -> None:
    merge = f"MERGE `{P}.{DS}.t` AS T USING (SELECT 1 AS id) AS S ON T.id = S.id WHEN MATCHED THEN DELETE"
    assert mutating_targets(merge, P, None) == ((P, DS, "t"),)
    assert mutating_targets(f"UPDATE {DS}.t SET v = 1 WHERE TRUE", P, None) == ((P, DS, "t"),)
    assert mutating_targets("DELETE FROM t WHERE TRUE", P, (P, DS)) == ((P, DS, "t"),)
    script = f"UPDATE {DS}.a SET v = 1 WHERE TRUE; DELETE FROM {DS}.b WHERE TRUE"
    assert mutating_targets(script, P, None) == ((P, DS, "a"), (P, DS, "b"))
    assert mutating_targets(f"SELECT * FROM {DS}.t", P, None) == ()
    assert mutating_targets(f"INSERT INTO {DS}.t (v) VALUES (1)", P, None) == ()  # own queue
    assert query_of(f"/bigquery/v2/projects/{P}/queries", {"query": "SELECT 1"}) == (
        "SELECT 1", P, None)  # fmt: skip
    body = {"configuration": {"query": {"query": "SELECT 1", "defaultDataset": {"datasetId": DS}}}}
    assert query_of(f"/bigquery/v2/projects/{P}/jobs", body) == ("SELECT 1", P, (P, DS))
    assert query_of(f"/bigquery/v2/projects/{P}/jobs", {"configuration": {"load": {}}}) is None


def test_the_queue_admits_running_and_queued_statements_then_refuses() -> None:
    queue, t, other = DmlQueue(), (P, DS, "t"), (P, DS, "u")
    for _ in range(OUTSTANDING):
        queue.acquire([t])
    with pytest.raises(TooManyDml, match=r"outstanding against table p:ds\.t, limit is 20"):
        queue.acquire([other, t])
    assert queue.outstanding() == {t: OUTSTANDING}  # the refused one took nothing
    queue.acquire([other])
    queue.release([t])
    queue.acquire([t])
    assert queue.refused == 1


class _Held(BaseHTTPRequestHandler):
    """A BigQuery stand-in that answers each job only once the test releases it."""

    protocol_version = "HTTP/1.1"
    arrived: list[str]
    release: threading.Event
    lock: threading.Lock

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            self.arrived.append(body["configuration"]["query"]["query"])
        self.release.wait(30)
        payload = json.dumps({"status": {"state": "DONE"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def gated() -> Iterator[tuple[int, type[_Held]]]:
    handler = type("Held", (_Held,), {"arrived": [], "release": threading.Event(),
                                      "lock": threading.Lock()})  # fmt: skip
    backend = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    port = free_port()
    grants = [
        Grant(MEMBER, "roles/bigquery.dataEditor", f"projects/{P}/datasets/{DS}"),
        Grant(MEMBER, "roles/bigquery.jobUser", f"projects/{P}"),
    ]
    gate = Gate(
        {
            "policy": Policy(grants, load_roles()).to_json(),
            "backends": {"bigquery": f"http://127.0.0.1:{backend.server_address[1]}"},
            "principals": {MEMBER: {"bigquery": port}},
            "health_port": free_port(),
            "project": P,
        }
    )
    gate.start()
    try:
        yield port, handler
    finally:
        handler.release.set()
        gate.stop()
        backend.shutdown()
        backend.server_close()


def _job(port: int, sql: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps({"configuration": {"query": {"query": sql, "useLegacySql": False}}})
    conn.request("POST", f"/bigquery/v2/projects/{P}/jobs", body,
                 {"Content-Type": "application/json"})  # fmt: skip
    resp = conn.getresponse()
    out = resp.status, json.loads(resp.read() or b"{}")
    conn.close()
    return out


def _wait_for(handler: type[_Held], n: int) -> None:
    for _ in range(600):
        with handler.lock:
            if len(handler.arrived) >= n:
                return
        threading.Event().wait(0.05)
    raise AssertionError(f"only {len(handler.arrived)} of {n} statements reached the backend")


def test_the_gate_refuses_a_23rd_merge_into_one_table_as_bigquery_does(gated) -> None:
    port, handler = gated
    merge = (
        f"MERGE `{P}.{DS}.t` AS T USING `{P}.{DS}.s` AS S ON T.id = S.id WHEN MATCHED THEN DELETE"
    )
    with ThreadPoolExecutor(max_workers=OUTSTANDING + 2) as pool:
        waiting = [pool.submit(_job, port, merge) for _ in range(OUTSTANDING)]
        _wait_for(handler, OUTSTANDING)  # 2 running + 20 queued, all held by the backend
        status, answer = _job(port, merge)
        assert status == 400
        assert answer["error"]["errors"][0]["reason"] == "resourcesExceeded"
        assert (
            "Too many DML statements outstanding against table p:ds.t, limit is 20"
            in (answer["error"]["message"])
        )
        # Another table's MERGE and a read of this one are not in its queue.
        other = pool.submit(_job, port, merge.replace(f"{DS}.t`", f"{DS}.u`"))
        read = pool.submit(_job, port, f"SELECT * FROM `{P}.{DS}.t`")
        _wait_for(handler, OUTSTANDING + 2)
        handler.release.set()
        assert [f.result()[0] for f in [*waiting, other, read]] == [200] * (OUTSTANDING + 2)
    assert _job(port, merge)[0] == 200  # answered: the queue has places again
    assert len([q for q in handler.arrived if q == merge]) == OUTSTANDING + 1
