"""Loopback OTLP receivers for tests: OTLP/HTTP (protobuf) and OTLP/gRPC.

Each records every export request with the headers (or gRPC metadata) it
came with. Use them as context managers so the server always stops.
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


@dataclass
class Received:
    """One export request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    request: Any


@dataclass
class Receiver:
    """What arrived, shared by both transports."""

    traces: list[Received] = field(default_factory=list)
    metrics: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    endpoint: str = ""

    def add(self, signal: str, item: Received) -> None:
        with self.lock:
            getattr(self, signal).append(item)

    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        """``(resource attributes, span)`` for every received span."""
        with self.lock:
            requests = [r.request for r in self.traces]
        return [
            (attributes(rs.resource.attributes), span)
            for request in requests
            for rs in request.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]

    def metric_names(self) -> dict[str, dict[str, Any]]:
        """Metric name -> resource attributes of the request that carried it."""
        with self.lock:
            requests = [r.request for r in self.metrics]
        return {
            metric.name: attributes(rm.resource.attributes)
            for request in requests
            for rm in request.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
        }


def attributes(pairs: list[KeyValue]) -> dict[str, Any]:
    """OTLP key-values as a plain dict (scalar values only)."""
    return {kv.key: value(kv.value) for kv in pairs}


def value(any_value: AnyValue) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


_HTTP_REQUESTS: dict[str, tuple[Any, Any]] = {
    "traces": (
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
    ),
    "metrics": (
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
    ),
}


class HttpReceiver(Receiver):
    """OTLP/HTTP protobuf on 127.0.0.1; the signal comes from the path's last segment."""

    def __enter__(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                signal = self.path.rstrip("/").rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if signal not in _HTTP_REQUESTS:
                    self.send_error(404)
                    return
                request_type, response_type = _HTTP_REQUESTS[signal]
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.add(signal, Received(self.path, headers, request_type.FromString(body)))
                payload = response_type().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class GrpcReceiver(Receiver):
    """OTLP/gRPC on 127.0.0.1 (plain text)."""

    def __enter__(self) -> GrpcReceiver:
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(self), self._server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(self), self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        self.endpoint = f"http://127.0.0.1:{port}"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop(grace=None).wait(timeout=5)


def _metadata(context: grpc.ServicerContext) -> dict[str, str]:
    return {k: str(v) for k, v in context.invocation_metadata()}


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._receiver.add("traces", Received("Export", _metadata(context), request))
        return trace_service_pb2.ExportTraceServiceResponse()


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._receiver.add("metrics", Received("Export", _metadata(context), request))
        return metrics_service_pb2.ExportMetricsServiceResponse()
