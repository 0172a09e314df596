"""Dispatcher: pull subscriptions -> push envelopes POSTed to function servers, N at a time.

The Pub/Sub emulator pushes at most 2 messages at a time per subscription, while Cloud
Functions runs up to ``max_instances`` deliveries at once. For fan-out and benchmarks the
stack can instead create the push subscriptions of terraform/ as pull subscriptions and
run this dispatcher, which keeps the contract of push: each message is POSTed as the
push envelope Pub/Sub sends (``{"message": {...}, "subscription": ...,
"deliveryAttempt": n}``, base64 data); a 2xx acks it; anything else (or no answer, or the
front door's 429) is nacked, and the emulator applies the subscription's retry policy
(backoff) and, after ``max_delivery_attempts``, moves it to the dead-letter topic (it does
so for pull subscriptions as for push; measured).

Run: ``python -m stkpi_tools.localstack.dispatcher CONFIG.json`` (written by ``Stack``); it
serves its counters as JSON on ``http://127.0.0.1:<port>/``.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from google.api_core.exceptions import DeadlineExceeded, GoogleAPICallError
from google.cloud import pubsub_v1

from stkpi.deadletters import settle
from stkpi_tools.localstack.process import serve_until_signalled

log = logging.getLogger("stkpi.dispatcher")


def push_envelope(received: Any, subscription: str) -> tuple[dict, bytes]:
    """Headers and body of the push request Pub/Sub would send for one pulled message."""
    msg = received.message
    publish_time = msg.publish_time.isoformat().replace("+00:00", "Z")
    body = {
        "message": {
            "data": base64.b64encode(msg.data).decode(),
            "attributes": dict(msg.attributes),
            "messageId": msg.message_id,
            "message_id": msg.message_id,
            "publishTime": publish_time,
            "publish_time": publish_time,
        },
        "subscription": subscription,
        "deliveryAttempt": received.delivery_attempt or 1,
    }
    return {"Content-Type": "application/json"}, json.dumps(body).encode()


def post_event(
    session: requests.Session, url: str, body: bytes, headers: dict, timeout: float
) -> bool:
    """POST one delivery on a fresh connection; True when the function answered 2xx.

    ``Connection: close`` because a kept-alive connection can be closed by the function
    server (gunicorn drops idle ones after 2 s) just as the next delivery is written on
    it: the POST fails without ever reaching the function, yet Pub/Sub counts the attempt,
    so a message could be dead-lettered after fewer real tries than the policy promises.
    The retry backoff (1, 2, 4, 8 s) makes that race common. A loopback connect costs well
    under a millisecond.
    """
    try:
        r = session.post(
            url, data=body, headers={**headers, "Connection": "close"}, timeout=timeout
        )
        return 200 <= r.status_code < 300
    except requests.RequestException as exc:
        log.warning("POST %s failed: %s", url, exc)
        return False


# An empty pull waits before the next, from IDLE_FIRST doubling to IDLE_MAX while the
# subscription stays empty: a quiet stack's four loops pulled 80 times a second, a tenth of
# a core in the emulator and here for nothing; a message waits at most IDLE_MAX more.
IDLE_FIRST = 0.05
IDLE_MAX = 0.4


class Dispatcher:
    def __init__(
        self,
        *,
        project: str,
        endpoints: dict[str, str],
        subscriptions: dict[str, str],
        concurrency: int = 8,
        max_delivery_attempts: int = 5,
        request_timeout: float = 600.0,
    ) -> None:
        self.project = project
        self.endpoints = endpoints
        self.subscriptions = subscriptions
        self.concurrency = concurrency
        self.max_attempts = max_delivery_attempts
        self.request_timeout = request_timeout
        self.subscriber = pubsub_v1.SubscriberClient()
        self.publisher = pubsub_v1.PublisherClient()
        self.stats: Counter[str] = Counter()
        # Chaos: the share of messages POSTed twice at once (Pub/Sub's at-least-once
        # delivery, concentrated); set at runtime with POST /faults {"duplicate_rate": x}.
        self.duplicate_rate = 0.0
        self._random = random.Random(0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    def start(self) -> None:
        for fn in self.endpoints:
            t = threading.Thread(target=self._loop, args=(fn,), name=f"pull-{fn}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)

    def _loop(self, fn: str) -> None:
        sub = self.subscriber.subscription_path(self.project, self.subscriptions[fn])
        slots = threading.BoundedSemaphore(self.concurrency)
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=2 * self.concurrency)  # twins
        session.mount("http://", adapter)
        idle = IDLE_FIRST
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"post-{fn}") as pool:
            while not self._stop.is_set():
                slots.acquire()
                free = 1
                while free < self.concurrency and slots.acquire(blocking=False):
                    free += 1
                try:
                    # return_immediately: a blocking pull that times out on the client
                    # while the emulator still waits hands the next message to nobody;
                    # it counts as a delivery attempt and sits out its ack deadline.
                    resp = self.subscriber.pull(
                        request={
                            "subscription": sub,
                            "max_messages": free,
                            "return_immediately": True,
                        },
                        timeout=30,
                    )
                    received = list(resp.received_messages)
                except DeadlineExceeded:
                    received = []
                except GoogleAPICallError as exc:
                    log.warning("pull %s failed: %s", sub, exc)
                    received = []
                    time.sleep(1)
                for _ in range(free - len(received)):
                    slots.release()
                if received:
                    idle = IDLE_FIRST
                else:
                    time.sleep(idle)
                    idle = min(2 * idle, IDLE_MAX)
                for msg in received:
                    pool.submit(self._deliver, fn, sub, msg, session, slots)

    def _post(self, fn: str, body: bytes, headers: dict, session: requests.Session) -> bool:
        return post_event(session, self.endpoints[fn], body, headers, self.request_timeout)

    def _duplicate(self) -> bool:
        with self._lock:
            return self.duplicate_rate > 0 and self._random.random() < self.duplicate_rate

    def _deliver(self, fn, sub, received, session, slots) -> None:
        try:
            headers, body = push_envelope(received, sub)
            if self._duplicate():
                # The same message id twice at once; either answer acks it, as on Pub/Sub.
                self._count(f"{fn}.duplicated")
                with ThreadPoolExecutor(2) as twice:
                    answers = list(
                        twice.map(lambda _: self._post(fn, body, headers, session), range(2))
                    )
                ok = any(answers)
            else:
                ok = self._post(fn, body, headers, session)
            self._settle(fn, sub, received, ok)
        except Exception:
            log.exception("dispatch of %s failed", received.message.message_id)
        finally:
            slots.release()

    def _settle(self, fn: str, sub: str, received: Any, ok: bool) -> None:
        if ok:
            settle(self.subscriber, sub, [received.ack_id], ack=True)
            self._count(f"{fn}.acked")
            return
        # Nack: the emulator applies the subscription's retry policy and, after
        # max_delivery_attempts, moves the message to the dead-letter topic itself.
        self._count(f"{fn}.failed")
        if (received.delivery_attempt or 0) >= self.max_attempts:
            self._count(f"{fn}.dead_lettered")
        settle(self.subscriber, sub, [received.ack_id], ack=False)


def _serve_stats(dispatcher: Dispatcher, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with dispatcher._lock:
                body = json.dumps(dict(dispatcher.stats)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # /faults {"duplicate_rate": 0..1}
            try:
                length = int(self.headers.get("Content-Length") or 0)
                rate = float(json.loads(self.rfile.read(length))["duplicate_rate"])
                if not 0 <= rate <= 1:
                    raise ValueError("duplicate_rate must be within 0..1")
            except (KeyError, TypeError, ValueError) as exc:
                self.send_response(400)
                self.end_headers()
                self.wfile.write(f"bad fault settings: {exc}".encode())
                return
            with dispatcher._lock:
                dispatcher.duplicate_rate = rate
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _start(config: dict) -> list[Callable[[], None]]:
    dispatcher = Dispatcher(
        project=config["project"],
        endpoints=config["endpoints"],
        subscriptions=config["subscriptions"],
        concurrency=int(config.get("concurrency") or 8),
        max_delivery_attempts=int(config.get("max_delivery_attempts") or 5),
    )
    dispatcher.start()
    server = _serve_stats(dispatcher, int(config["port"]))
    log.info("dispatcher running: %s", json.dumps(config["endpoints"]))
    return [server.shutdown, dispatcher.stop]


def main(argv: list[str] | None = None) -> None:
    serve_until_signalled(argv, _start)


if __name__ == "__main__":
    main()
