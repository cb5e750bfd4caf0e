"""An in-process OTLP receiver for tests: real gRPC and real HTTP endpoints on 127.0.0.1.

It decodes what OpenTelemetry exporters send (traces and metrics, protobuf over gRPC, protobuf or JSON
over HTTP) into plain dataclasses that tests can assert on. ``delay_s`` and ``pause()`` turn it into a slow
or stuck collector, to check that exporting never holds up the application.

grpcio and opentelemetry-proto are imported here, at module level: this module is only ever imported
explicitly by tests, never by ``import synapsekit``.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import socket
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

try:
    # grpcio ships no type information; the few calls made on it are checked by the tests.
    import grpc  # type: ignore[import-untyped]

    # protobuf ships no type information either (types-protobuf is not a dependency).
    from google.protobuf import json_format  # type: ignore[import-untyped]
    from google.protobuf.message import DecodeError, Message  # type: ignore[import-untyped]
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.metrics.v1 import metrics_pb2
    from opentelemetry.proto.trace.v1 import trace_pb2
except ImportError as exc:
    # Raised at ``from synapsekit.testing import OTLPReceiver``: say which extra brings these.
    raise ImportError(
        'OTLPReceiver needs grpcio and opentelemetry-proto: pip install "synapsekit[otel]"'
    ) from exc

__all__ = [
    "OTLPReceiver",
    "ReceivedDataPoint",
    "ReceivedEvent",
    "ReceivedMetric",
    "ReceivedRequest",
    "ReceivedSpan",
]

TRACES_PATH = "/v1/traces"
METRICS_PATH = "/v1/metrics"
_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"


@dataclass(frozen=True)
class ReceivedEvent:
    name: str
    attributes: dict[str, Any]
    time_unix_nano: int


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    kind: str  # "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER" or "UNSPECIFIED"
    attributes: dict[str, Any]
    events: list[ReceivedEvent]
    status_code: str  # "UNSET", "OK" or "ERROR"
    status_message: str
    resource_attributes: dict[str, Any]
    scope_name: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    transport: str  # "grpc" or "http"


@dataclass(frozen=True)
class ReceivedDataPoint:
    attributes: dict[str, Any]
    value: float | int | None = None  # sums and gauges
    sum: float | None = None  # histograms
    count: int | None = None
    bucket_counts: list[int] = field(default_factory=list)
    explicit_bounds: list[float] = field(default_factory=list)
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class ReceivedMetric:
    name: str
    kind: str  # "histogram", "sum", "gauge", "exponential_histogram" or "summary"
    unit: str
    description: str
    data_points: list[ReceivedDataPoint]
    resource_attributes: dict[str, Any]
    scope_name: str
    transport: str  # "grpc" or "http"


@dataclass(frozen=True)
class ReceivedRequest:
    transport: str  # "grpc" or "http"
    signal: str  # "traces" or "metrics"
    headers: dict[str, str]  # lower-cased names (gRPC metadata or HTTP headers)
    content_type: str  # "application/x-protobuf" or "application/json"; "application/grpc" for gRPC


class OTLPReceiver:
    """An OTLP/gRPC and OTLP/HTTP collector on loopback ephemeral ports that keeps what it receives.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. Every export request is recorded
    when it arrives; the answer is then held back by ``delay_s`` seconds, and for as long as the
    receiver is paused.
    """

    def __init__(self, *, delay_s: float = 0.0) -> None:
        if delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {delay_s!r}")
        self.delay_s = delay_s
        self._condition = threading.Condition()
        self._spans: list[ReceivedSpan] = []
        self._metrics: list[ReceivedMetric] = []
        self._requests: list[ReceivedRequest] = []
        self._in_flight = 0
        self._resumed = threading.Event()
        self._resumed.set()
        self._grpc_server: Any = None
        self._http_server: _ClosingHTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._grpc_port = 0
        self._http_port = 0

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> OTLPReceiver:
        if self._http_server is not None:
            return self
        grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="otlp-grpc"))
        # The generated registration helpers are unannotated.
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _TraceServicer(self), grpc_server
        )
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _MetricsServicer(self), grpc_server
        )
        self._grpc_port = int(grpc_server.add_insecure_port("127.0.0.1:0"))
        grpc_server.start()
        self._grpc_server = grpc_server

        http_server = _ClosingHTTPServer(("127.0.0.1", 0), _make_http_handler(self))
        http_server.daemon_threads = True
        self._http_port = int(http_server.server_address[1])
        self._http_thread = threading.Thread(
            target=http_server.serve_forever, name="otlp-http", kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._http_thread.start()
        self._http_server = http_server
        return self

    def stop(self) -> None:
        # A paused receiver must not keep exporter threads (or our own shutdown) waiting forever.
        self._resumed.set()
        if self._grpc_server is not None:
            self._grpc_server.stop(grace=None)
            self._grpc_server = None
        if self._http_server is not None:
            self._http_server.shutdown()
            self._http_server.server_close()
            self._http_server.close_connections()
            self._http_server = None
        if self._http_thread is not None:
            self._http_thread.join()
            self._http_thread = None

    def __enter__(self) -> OTLPReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- endpoints -----------------------------------------------------------------------------------------

    @property
    def grpc_endpoint(self) -> str:
        self._require_started()
        return f"http://127.0.0.1:{self._grpc_port}"

    @property
    def http_endpoint(self) -> str:
        self._require_started()
        return f"http://127.0.0.1:{self._http_port}"

    @property
    def grpc_port(self) -> int:
        self._require_started()
        return self._grpc_port

    @property
    def http_port(self) -> int:
        self._require_started()
        return self._http_port

    def _require_started(self) -> None:
        if self._http_server is None:
            raise RuntimeError("OTLPReceiver is not started; call start() or use it as a context manager")

    # -- what was received ---------------------------------------------------------------------------------

    @property
    def spans(self) -> list[ReceivedSpan]:
        with self._condition:
            return list(self._spans)

    @property
    def metrics(self) -> list[ReceivedMetric]:
        with self._condition:
            return list(self._metrics)

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._condition:
            return list(self._requests)

    @property
    def in_flight(self) -> int:
        """Export requests that have arrived and are not answered yet (held by ``delay_s`` or a pause)."""
        with self._condition:
            return self._in_flight

    def span(self, name: str) -> ReceivedSpan:
        """The one received span called ``name``; raises if there is none or more than one."""
        matching = [span for span in self.spans if span.name == name]
        if len(matching) != 1:
            raise LookupError(f"expected exactly one span named {name!r}, received {len(matching)}")
        return matching[0]

    def wait_for_spans(self, n: int, timeout: float = 10.0) -> list[ReceivedSpan]:
        """Block until at least ``n`` spans have been received and return all of them."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self._spans) >= n, timeout):
                names = [span.name for span in self._spans]
                raise TimeoutError(f"waited {timeout}s for {n} spans, received {len(names)}: {names}")
            return list(self._spans)

    def wait_for_metrics(self, name: str, timeout: float = 10.0) -> list[ReceivedMetric]:
        """Block until a metric called ``name`` has been received; return every export of it, oldest first."""

        def matching() -> list[ReceivedMetric]:
            return [metric for metric in self._metrics if metric.name == name]

        with self._condition:
            if not self._condition.wait_for(lambda: bool(matching()), timeout):
                names = sorted({metric.name for metric in self._metrics})
                raise TimeoutError(f"waited {timeout}s for metric {name!r}, received only {names}")
            return matching()

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> list[ReceivedRequest]:
        """Block until at least ``n`` export requests have arrived (answered or not)."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self._requests) >= n, timeout):
                raise TimeoutError(f"waited {timeout}s for {n} requests, received {len(self._requests)}")
            return list(self._requests)

    def clear(self) -> None:
        with self._condition:
            self._spans.clear()
            self._metrics.clear()
            self._requests.clear()

    # -- misbehaving on purpose ----------------------------------------------------------------------------

    def pause(self) -> None:
        """Hold every answer until :meth:`resume`: the receiver looks stuck to exporters."""
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()

    # -- called by the transports --------------------------------------------------------------------------

    def _handle(
        self,
        request: ReceivedRequest,
        spans: Iterable[ReceivedSpan] = (),
        metrics: Iterable[ReceivedMetric] = (),
    ) -> None:
        with self._condition:
            self._requests.append(request)
            self._spans.extend(spans)
            self._metrics.extend(metrics)
            self._in_flight += 1
            self._condition.notify_all()
        try:
            if self.delay_s:
                time.sleep(self.delay_s)
            self._resumed.wait()
        finally:
            with self._condition:
                self._in_flight -= 1
                self._condition.notify_all()


# -- decoding ------------------------------------------------------------------------------------------------


def _any_value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_any_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, which)


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {pair.key: _any_value(pair.value) for pair in pairs}


def _span_kind(kind: int) -> str:
    name = str(trace_pb2.Span.SpanKind.Name(kind))  # e.g. "SPAN_KIND_CLIENT"
    return name.removeprefix("SPAN_KIND_")


def _status_code(code: int) -> str:
    return str(trace_pb2.Status.StatusCode.Name(code)).removeprefix("STATUS_CODE_")


def decode_spans(request: trace_service_pb2.ExportTraceServiceRequest, transport: str) -> list[ReceivedSpan]:
    received: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                received.append(
                    ReceivedSpan(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        kind=_span_kind(span.kind),
                        attributes=_attributes(span.attributes),
                        events=[
                            ReceivedEvent(event.name, _attributes(event.attributes), event.time_unix_nano)
                            for event in span.events
                        ],
                        status_code=_status_code(span.status.code),
                        status_message=span.status.message,
                        resource_attributes=dict(resource),
                        scope_name=scope_spans.scope.name,
                        start_time_unix_nano=span.start_time_unix_nano,
                        end_time_unix_nano=span.end_time_unix_nano,
                        transport=transport,
                    )
                )
    return received


def _optional(point: Message, name: str) -> Any:
    return getattr(point, name) if point.HasField(name) else None


def _number(point: metrics_pb2.NumberDataPoint) -> float | int | None:
    which = point.WhichOneof("value")  # "as_double" or "as_int"
    return None if which is None else float(point.as_double) if which == "as_double" else int(point.as_int)


def _data_points(metric: metrics_pb2.Metric, kind: str) -> list[ReceivedDataPoint]:
    if kind in ("sum", "gauge"):
        points = metric.sum.data_points if kind == "sum" else metric.gauge.data_points
        return [
            ReceivedDataPoint(attributes=_attributes(point.attributes), value=_number(point))
            for point in points
        ]
    if kind == "histogram":
        return [
            ReceivedDataPoint(
                attributes=_attributes(point.attributes),
                sum=_optional(point, "sum"),
                count=point.count,
                bucket_counts=list(point.bucket_counts),
                explicit_bounds=list(point.explicit_bounds),
                min=_optional(point, "min"),
                max=_optional(point, "max"),
            )
            for point in metric.histogram.data_points
        ]
    if kind == "exponential_histogram":
        return [
            ReceivedDataPoint(
                attributes=_attributes(point.attributes),
                sum=_optional(point, "sum"),
                count=point.count,
                min=_optional(point, "min"),
                max=_optional(point, "max"),
            )
            for point in metric.exponential_histogram.data_points
        ]
    return [
        ReceivedDataPoint(attributes=_attributes(point.attributes), sum=point.sum, count=point.count)
        for point in metric.summary.data_points
    ]


def decode_metrics(
    request: metrics_service_pb2.ExportMetricsServiceRequest, transport: str
) -> list[ReceivedMetric]:
    received: list[ReceivedMetric] = []
    for resource_metrics in request.resource_metrics:
        resource = _attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data") or "unknown"
                received.append(
                    ReceivedMetric(
                        name=metric.name,
                        kind=kind,
                        unit=metric.unit,
                        description=metric.description,
                        data_points=_data_points(metric, kind) if kind != "unknown" else [],
                        resource_attributes=dict(resource),
                        scope_name=scope_metrics.scope.name,
                        transport=transport,
                    )
                )
    return received


_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})


def _hex_ids_to_base64(node: Any) -> Any:
    # OTLP/JSON writes trace and span ids as hex, where protobuf's JSON mapping expects base64 bytes.
    if isinstance(node, dict):
        return {
            key: base64.b64encode(bytes.fromhex(value)).decode()
            if key in _ID_FIELDS and isinstance(value, str)
            else _hex_ids_to_base64(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    return node


# -- gRPC ----------------------------------------------------------------------------------------------------


def _grpc_request(context: Any, signal: str) -> ReceivedRequest:
    metadata = {str(key).lower(): str(value) for key, value in context.invocation_metadata()}
    return ReceivedRequest("grpc", signal, metadata, "application/grpc")


class _TraceServicer(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OTLPReceiver) -> None:
        self._receiver = receiver

    def Export(  # name fixed by the generated gRPC service
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self._receiver._handle(_grpc_request(context, "traces"), spans=decode_spans(request, "grpc"))
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsServicer(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: OTLPReceiver) -> None:
        self._receiver = receiver

    def Export(  # name fixed by the generated gRPC service
        self, request: metrics_service_pb2.ExportMetricsServiceRequest, context: Any
    ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        self._receiver._handle(_grpc_request(context, "metrics"), metrics=decode_metrics(request, "grpc"))
        return metrics_service_pb2.ExportMetricsServiceResponse()


# -- HTTP ----------------------------------------------------------------------------------------------------

_Decoder = Callable[[bytes, str], tuple[list[ReceivedSpan], list[ReceivedMetric], Message]]


def _parse(message: Message, body: bytes, content_type: str) -> None:
    if content_type == _JSON:
        json_format.ParseDict(_hex_ids_to_base64(json.loads(body)), message)
    else:
        message.ParseFromString(body)


def _decode_traces_body(
    body: bytes, content_type: str
) -> tuple[list[ReceivedSpan], list[ReceivedMetric], Message]:
    request = trace_service_pb2.ExportTraceServiceRequest()
    _parse(request, body, content_type)
    return decode_spans(request, "http"), [], trace_service_pb2.ExportTraceServiceResponse()


def _decode_metrics_body(
    body: bytes, content_type: str
) -> tuple[list[ReceivedSpan], list[ReceivedMetric], Message]:
    request = metrics_service_pb2.ExportMetricsServiceRequest()
    _parse(request, body, content_type)
    return [], decode_metrics(request, "http"), metrics_service_pb2.ExportMetricsServiceResponse()


_ROUTES: Mapping[str, tuple[str, _Decoder]] = {
    TRACES_PATH: ("traces", _decode_traces_body),
    METRICS_PATH: ("metrics", _decode_metrics_body),
}


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    return body


class _ClosingHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that can hang up on its open connections.

    ``shutdown()`` only stops accepting: a handler thread serving a kept-alive HTTP/1.1 connection (an OTLP
    exporter's pooled session) would go on answering after the receiver stopped, so a "collector down" test
    would still see its exports accepted.
    """

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A connection we hung up on (or its peer dropped) is not worth a traceback on stderr.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its peer
                connection.shutdown(socket.SHUT_RDWR)


def _make_http_handler(receiver: OTLPReceiver) -> type[BaseHTTPRequestHandler]:
    class _OTLPHTTPHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # name fixed by BaseHTTPRequestHandler
            route = _ROUTES.get(self.path.split("?", 1)[0])
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if route is None:
                self._reply(404, "text/plain", b"unknown OTLP path")
                return
            content_type = self.headers.get("Content-Type", _PROTOBUF).split(";", 1)[0].strip()
            if content_type not in (_PROTOBUF, _JSON):
                self._reply(
                    415, "text/plain", b"OTLP/HTTP accepts application/x-protobuf or application/json"
                )
                return
            signal, decode = route
            try:
                raw = _decompress(body, self.headers.get("Content-Encoding", "").strip().lower())
                spans, metrics, response = decode(raw, content_type)
            except (DecodeError, json_format.ParseError, ValueError, OSError, zlib.error) as error:
                self._reply(400, "text/plain", f"cannot decode OTLP request: {error}".encode())
                return
            headers = {key.lower(): value for key, value in self.headers.items()}
            receiver._handle(ReceivedRequest("http", signal, headers, content_type), spans, metrics)
            if content_type == _JSON:
                self._reply(200, _JSON, json_format.MessageToJson(response).encode())
            else:
                self._reply(200, _PROTOBUF, response.SerializeToString())

        def _reply(self, status: int, content_type: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            # Test output stays readable; every request is recorded in receiver.requests instead.
            pass

    return _OTLPHTTPHandler
