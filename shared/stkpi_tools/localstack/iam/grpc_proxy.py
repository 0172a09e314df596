"""The gate's gRPC side (Pub/Sub): each call is judged by its first request
(``rules_pubsub``), refused with ``PERMISSION_DENIED`` as Google does, or relayed as raw
bytes to the emulator, streams included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import grpc

from stkpi_tools.localstack.iam import rules_pubsub
from stkpi_tools.localstack.iam.decisions import Denied
from stkpi_tools.localstack.iam.policy import NoRule

if TYPE_CHECKING:
    from stkpi_tools.localstack.iam.gate import Gate

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
