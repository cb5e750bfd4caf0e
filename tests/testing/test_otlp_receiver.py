"""The OTLP test receiver, fed by the real OpenTelemetry exporters over real gRPC and HTTP."""

from __future__ import annotations

import gzip
import http.client
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from synapsekit.testing._otlp import OTLPReceiver, ReceivedDataPoint, ReceivedEvent

RESOURCE = Resource({"service.name": "receiver-test", "deployment.environment": "ci"})


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as running:
        yield running


def _span_exporter(receiver: OTLPReceiver, transport: str) -> SpanExporter:
    if transport == "grpc":
        return GrpcSpanExporter(endpoint=receiver.grpc_endpoint, insecure=True, headers={"x-tenant": "acme"})
    return HttpSpanExporter(endpoint=f"{receiver.http_endpoint}/v1/traces", headers={"x-tenant": "acme"})


def _metric_exporter(receiver: OTLPReceiver, transport: str) -> MetricExporter:
    if transport == "grpc":
        return GrpcMetricExporter(endpoint=receiver.grpc_endpoint, insecure=True)
    return HttpMetricExporter(endpoint=f"{receiver.http_endpoint}/v1/metrics")


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_spans_are_decoded(receiver: OTLPReceiver, transport: str) -> None:
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(_span_exporter(receiver, transport)))
    tracer = provider.get_tracer("decoder.scope")
    with (
        tracer.start_as_current_span("parent") as parent,
        tracer.start_as_current_span("child", kind=SpanKind.CLIENT) as child,
    ):
        child.set_attributes(
            {"text": "hi", "count": 3, "ratio": 0.25, "flag": True, "tags": ["a", "b"], "sizes": [1, 2]}
        )
        child.add_event("gen_ai.first_chunk", {"index": 0})
        child.set_status(Status(StatusCode.ERROR, "rate limited"))
    provider.shutdown()

    child_received, parent_received = receiver.wait_for_spans(2)
    assert parent_received.name == "parent"
    assert parent_received.parent_span_id is None
    assert parent_received.kind == "INTERNAL"
    assert parent_received.status_code == "UNSET"
    assert parent_received.span_id == format(parent.get_span_context().span_id, "016x")
    assert parent_received.trace_id == format(parent.get_span_context().trace_id, "032x")
    assert child_received.name == "child"
    assert child_received.parent_span_id == parent_received.span_id
    assert child_received.trace_id == parent_received.trace_id
    assert child_received.span_id == format(child.get_span_context().span_id, "016x")
    assert child_received.kind == "CLIENT"
    assert child_received.attributes == {
        "text": "hi",
        "count": 3,
        "ratio": 0.25,
        "flag": True,
        "tags": ["a", "b"],
        "sizes": [1, 2],
    }
    assert child_received.events == [
        ReceivedEvent("gen_ai.first_chunk", {"index": 0}, child_received.events[0].time_unix_nano)
    ]
    assert child_received.status_code == "ERROR"
    assert child_received.status_message == "rate limited"
    assert child_received.resource_attributes == {
        "service.name": "receiver-test",
        "deployment.environment": "ci",
    }
    assert child_received.scope_name == "decoder.scope"
    assert child_received.transport == transport
    assert child_received.end_time_unix_nano >= child_received.start_time_unix_nano > 0
    assert receiver.span("child") == child_received

    requests = receiver.requests
    assert [(request.transport, request.signal) for request in requests] == [(transport, "traces")] * 2
    assert all(request.headers["x-tenant"] == "acme" for request in requests)
    expected_type = "application/grpc" if transport == "grpc" else "application/x-protobuf"
    assert {request.content_type for request in requests} == {expected_type}


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_metrics_are_decoded(receiver: OTLPReceiver, transport: str) -> None:
    reader = PeriodicExportingMetricReader(
        _metric_exporter(receiver, transport), export_interval_millis=3_600_000
    )
    provider = MeterProvider(metric_readers=[reader], resource=RESOURCE)
    meter = provider.get_meter("metrics.scope")
    meter.create_counter("requests", unit="{request}", description="Requests").add(2, {"route": "/a"})
    meter.create_histogram("latency", unit="s", explicit_bucket_boundaries_advisory=[0.1, 1.0]).record(
        0.5, {"route": "/a"}
    )
    meter.create_gauge("temperature").set(21.5)
    provider.force_flush()

    latency = receiver.wait_for_metrics("latency")[-1]
    assert latency.kind == "histogram"
    assert latency.unit == "s"
    assert latency.scope_name == "metrics.scope"
    assert latency.resource_attributes == {"service.name": "receiver-test", "deployment.environment": "ci"}
    assert latency.transport == transport
    assert latency.data_points == [
        ReceivedDataPoint(
            attributes={"route": "/a"},
            sum=0.5,
            count=1,
            bucket_counts=[0, 1, 0],
            explicit_bounds=[0.1, 1.0],
            min=0.5,
            max=0.5,
        )
    ]
    requests = receiver.wait_for_metrics("requests")[-1]
    assert (requests.kind, requests.unit, requests.description) == ("sum", "{request}", "Requests")
    assert requests.data_points == [ReceivedDataPoint(attributes={"route": "/a"}, value=2)]
    temperature = receiver.wait_for_metrics("temperature")[-1]
    assert temperature.kind == "gauge"
    assert temperature.data_points == [ReceivedDataPoint(attributes={}, value=21.5)]
    provider.shutdown()


def test_http_accepts_otlp_json_with_hex_ids(receiver: OTLPReceiver) -> None:
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "json.scope"},
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "parentSpanId": "eee19b7ec3c1b173",
                                "name": "json-span",
                                "kind": 3,
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": "1544712661000000000",
                                "attributes": [{"key": "n", "value": {"intValue": "7"}}],
                                "status": {"code": 1},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    status, payload = _post(
        f"{receiver.http_endpoint}/v1/traces", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )

    assert (status, json.loads(payload)) == (200, {})
    span = receiver.span("json-span")
    assert (span.trace_id, span.span_id, span.parent_span_id) == (
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
        "eee19b7ec3c1b173",
    )
    assert (span.kind, span.status_code, span.attributes) == ("CLIENT", "OK", {"n": 7})
    assert (span.resource_attributes, span.scope_name) == ({"service.name": "json-svc"}, "json.scope")
    assert receiver.requests[0].content_type == "application/json"


def test_http_accepts_gzip_bodies(receiver: OTLPReceiver) -> None:
    request = trace_service_pb2.ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.name = "zipped"
    span.trace_id = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    span.span_id = bytes.fromhex("b7ad6b7169203331")

    status, payload = _post(
        f"{receiver.http_endpoint}/v1/traces",
        gzip.compress(request.SerializeToString()),
        {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
    )

    assert (status, payload) == (200, b"")
    assert receiver.span("zipped").span_id == "b7ad6b7169203331"


@pytest.mark.parametrize(
    ("path", "content_type", "body", "status", "message"),
    [
        ("/v1/logs", "application/x-protobuf", b"", 404, b"unknown OTLP path"),
        (
            "/v1/traces",
            "text/plain",
            b"hello",
            415,
            b"OTLP/HTTP accepts application/x-protobuf or application/json",
        ),
        ("/v1/traces", "application/json", b"{not json", 400, b"cannot decode OTLP request: "),
        ("/v1/metrics", "application/x-protobuf", b"\xff\xff\xff", 400, b"cannot decode OTLP request: "),
    ],
)
def test_http_rejects_bad_requests(
    receiver: OTLPReceiver, path: str, content_type: str, body: bytes, status: int, message: bytes
) -> None:
    received_status, payload = _post(receiver.http_endpoint + path, body, {"Content-Type": content_type})

    assert received_status == status
    assert payload.startswith(message)
    assert receiver.requests == []


def test_paused_receiver_holds_answers_until_resumed(receiver: OTLPReceiver) -> None:
    receiver.pause()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(_span_exporter(receiver, "http")))
    exporting = threading.Thread(target=lambda: provider.get_tracer("t").start_span("held").end())
    exporting.start()

    receiver.wait_for_requests(1)
    assert receiver.in_flight == 1
    assert exporting.is_alive()  # SimpleSpanProcessor exports inline, so the span's end() is stuck

    receiver.resume()
    exporting.join()
    assert receiver.in_flight == 0
    assert [span.name for span in receiver.spans] == ["held"]
    provider.shutdown()


def test_delay_holds_each_answer(receiver: OTLPReceiver) -> None:
    receiver.delay_s = 0.2
    exporter = HttpSpanExporter(endpoint=f"{receiver.http_endpoint}/v1/traces")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("t").start_span("slow").end()

    assert [span.name for span in receiver.spans] == ["slow"]
    assert receiver.in_flight == 0
    provider.shutdown()


def test_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match=r"delay_s must be >= 0, got -1"):
        OTLPReceiver(delay_s=-1)


def test_waits_time_out_with_what_was_received(receiver: OTLPReceiver) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_span_exporter(receiver, "grpc")))
    provider.get_tracer("t").start_span("only-one").end()

    with pytest.raises(TimeoutError, match=r"waited 0.2s for 2 spans, received 1: \['only-one'\]"):
        receiver.wait_for_spans(2, timeout=0.2)
    with pytest.raises(TimeoutError, match=r"waited 0.2s for metric 'missing', received only \[\]"):
        receiver.wait_for_metrics("missing", timeout=0.2)
    with pytest.raises(TimeoutError, match=r"waited 0.2s for 2 requests, received 1"):
        receiver.wait_for_requests(2, timeout=0.2)
    with pytest.raises(LookupError, match=r"expected exactly one span named 'absent', received 0"):
        receiver.span("absent")
    provider.shutdown()


def test_clear_forgets_everything(receiver: OTLPReceiver) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_span_exporter(receiver, "grpc")))
    provider.get_tracer("t").start_span("forgotten").end()
    receiver.wait_for_spans(1)

    receiver.clear()

    assert (receiver.spans, receiver.metrics, receiver.requests) == ([], [], [])
    provider.shutdown()


def test_endpoints_need_a_started_receiver() -> None:
    receiver = OTLPReceiver()
    with pytest.raises(RuntimeError, match="OTLPReceiver is not started"):
        _ = receiver.grpc_endpoint
    with pytest.raises(RuntimeError, match="OTLPReceiver is not started"):
        _ = receiver.http_endpoint

    receiver.start()
    try:
        assert receiver.start() is receiver  # starting twice keeps the same ports
        assert receiver.grpc_endpoint == f"http://127.0.0.1:{receiver.grpc_port}"
        assert receiver.http_endpoint == f"http://127.0.0.1:{receiver.http_port}"
        assert receiver.grpc_port != receiver.http_port
    finally:
        receiver.stop()
    receiver.stop()  # stopping twice is harmless
    with pytest.raises(RuntimeError, match="OTLPReceiver is not started"):
        _ = receiver.http_endpoint


def _post_again(connection: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> None:
    connection.request("POST", "/v1/traces", body, headers)
    connection.getresponse()


def test_a_stopped_receiver_hangs_up_on_kept_alive_connections() -> None:
    """An exporter's pooled HTTP/1.1 connection must not keep being answered after stop()."""
    receiver = OTLPReceiver().start()
    port = int(receiver.http_endpoint.rsplit(":", 1)[1])
    body = trace_service_pb2.ExportTraceServiceRequest().SerializeToString()
    headers = {"Content-Type": "application/x-protobuf"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("POST", "/v1/traces", body, headers)
        first = connection.getresponse()
        first.read()
        assert first.status == 200
        receiver.stop()
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            _post_again(connection, body, headers)
    finally:
        connection.close()
        receiver.stop()
