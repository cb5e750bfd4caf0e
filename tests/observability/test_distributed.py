"""DistributedTracer, TraceSpan, the HTTP client hook, the global propagator and the ASGI middleware."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import openai
import pytest
from opentelemetry import baggage, context as context_api, propagate, trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

from synapsekit.observability._asgi import TraceContextMiddleware
from synapsekit.observability._distributed import DistributedTracer, TraceSpan, create_propagator

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
HEX = set("0123456789abcdef")


class Spans:
    """A fresh SDK provider per test, passed explicitly: the global provider can be set once per process."""

    def __init__(self, provider: TracerProvider) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = provider
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def finished(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def one(self, name: str) -> ReadableSpan:
        matching = [span for span in self.finished() if span.name == name]
        assert len(matching) == 1, [span.name for span in self.finished()]
        return matching[0]


@pytest.fixture
def spans() -> Spans:
    return Spans(TracerProvider())


@pytest.fixture
def tracer(spans: Spans) -> DistributedTracer:
    return DistributedTracer("checkout", tracer_provider=spans.provider)


def _hex(value: int, digits: int) -> str:
    return f"{value:0{digits}x}"


def _assert_ids(span: TraceSpan) -> None:
    assert len(span.trace_id) == 32
    assert set(span.trace_id) <= HEX
    assert span.trace_id != "0" * 32
    assert len(span.span_id) == 16
    assert set(span.span_id) <= HEX
    assert span.span_id != "0" * 16


# --- construction --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_format", ["", "W3C", "zipkin", "b3multi", "jaeger"])
def test_unknown_propagation_format_is_a_value_error(bad_format: str) -> None:
    with pytest.raises(ValueError, match=r'propagation_format must be "w3c" or "b3", got'):
        DistributedTracer("svc", propagation_format=bad_format)


@pytest.mark.parametrize("bad_name", ["", "   "])
def test_empty_service_name_is_a_value_error(bad_name: str) -> None:
    with pytest.raises(ValueError, match="service_name must be a non-empty string"):
        DistributedTracer(bad_name)


def test_defaults() -> None:
    tracer = DistributedTracer("rag-service")
    assert (tracer.service_name, tracer.propagation_format, tracer.b3_single_header) == (
        "rag-service",
        "w3c",
        True,
    )
    assert repr(tracer) == "DistributedTracer(service_name='rag-service', propagation_format='w3c')"


# --- inject / extract round trips ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("propagation_format", "single", "expected_names"),
    [
        ("w3c", True, ["traceparent"]),
        ("b3", True, ["b3"]),
        ("b3", False, ["X-B3-TraceId", "X-B3-SpanId", "X-B3-Sampled"]),
    ],
)
def test_inject_then_extract_keeps_trace_and_parent(
    spans: Spans, propagation_format: str, single: bool, expected_names: list[str]
) -> None:
    client = DistributedTracer(
        "client", propagation_format, b3_single_header=single, tracer_provider=spans.provider
    )
    server = DistributedTracer("server", propagation_format, tracer_provider=spans.provider)
    with client.start_span("call") as outgoing:
        headers = client.inject_context({})
    assert sorted(headers) == sorted(expected_names)

    parent = server.extract_context(headers)
    assert parent == {
        "trace_id": outgoing.trace_id,
        "span_id": outgoing.span_id,
        "sampled": True,
        "format": propagation_format,
        "tracestate": None,
        "baggage": {},
    }
    with server.start_span("handle", parent_context=parent) as incoming:
        pass
    _assert_ids(incoming)
    assert incoming.trace_id == outgoing.trace_id
    assert incoming.parent_span_id == outgoing.span_id

    handle = spans.one("handle")
    assert handle.parent is not None
    assert handle.parent.is_remote
    assert (_hex(handle.context.trace_id, 32), _hex(handle.parent.span_id, 16)) == (
        outgoing.trace_id,
        outgoing.span_id,
    )


def test_inject_exact_header_values(spans: Spans) -> None:
    for propagation_format, single in (("w3c", True), ("b3", True), ("b3", False)):
        tracer = DistributedTracer(
            "svc", propagation_format, b3_single_header=single, tracer_provider=spans.provider
        )
        with tracer.start_span("op") as span:
            headers = tracer.inject_context({"Accept": "*/*"})
        expected = {
            ("w3c", True): {"traceparent": f"00-{span.trace_id}-{span.span_id}-01"},
            ("b3", True): {"b3": f"{span.trace_id}-{span.span_id}-1"},
            ("b3", False): {"X-B3-TraceId": span.trace_id, "X-B3-SpanId": span.span_id, "X-B3-Sampled": "1"},
        }[(propagation_format, single)]
        assert headers == {"Accept": "*/*", **expected}


def test_inject_without_a_current_span_injects_nothing(tracer: DistributedTracer) -> None:
    headers = {"Accept": "*/*"}
    assert tracer.inject_context(headers) is headers
    assert headers == {"Accept": "*/*"}


def test_inject_returns_the_same_dict_and_replaces_stale_fields(tracer: DistributedTracer) -> None:
    headers = {"TraceParent": "00-stale", "Accept": "*/*"}
    with tracer.start_span("op") as span:
        returned = tracer.inject_context(headers)
    assert returned is headers
    assert headers == {"Accept": "*/*", "traceparent": f"00-{span.trace_id}-{span.span_id}-01"}


def test_inject_uses_any_current_opentelemetry_span(spans: Spans, tracer: DistributedTracer) -> None:
    other = spans.provider.get_tracer("someone-else")
    with other.start_as_current_span("foreign") as foreign:
        headers = tracer.inject_context({})
    context = foreign.get_span_context()
    assert headers == {"traceparent": f"00-{_hex(context.trace_id, 32)}-{_hex(context.span_id, 16)}-01"}


def test_inject_after_the_block_injects_nothing(tracer: DistributedTracer) -> None:
    with tracer.start_span("op"):
        pass
    assert tracer.inject_context({}) == {}


def test_tracestate_and_baggage_pass_through_a_service(tracer: DistributedTracer) -> None:
    incoming = {
        "traceparent": f"00-{TRACE_ID}-{SPAN_ID}-00",
        "tracestate": "vendor=abc, other=1",
        "baggage": "user=alice,note=a%20b",
    }
    parent = tracer.extract_context(incoming)
    assert parent == {
        "trace_id": TRACE_ID,
        "span_id": SPAN_ID,
        "sampled": False,
        "format": "w3c",
        "tracestate": "vendor=abc,other=1",
        "baggage": {"user": "alice", "note": "a b"},
    }
    with tracer.start_span("handle", parent_context=parent) as span:
        assert baggage.get_all() == {"user": "alice", "note": "a b"}
        outgoing = tracer.inject_context({})
    assert outgoing == {
        "traceparent": f"00-{TRACE_ID}-{span.span_id}-00",
        "tracestate": "vendor=abc,other=1",
        "baggage": "user=alice,note=a%20b",
    }
    assert baggage.get_all() == {}


def test_b3_tracer_extracts_w3c_and_w3c_tracer_extracts_b3(spans: Spans) -> None:
    b3 = DistributedTracer("svc", "b3", tracer_provider=spans.provider)
    w3c = DistributedTracer("svc", "w3c", tracer_provider=spans.provider)
    assert b3.extract_context({"traceparent": f"00-{TRACE_ID}-{SPAN_ID}-01"}) == {
        "trace_id": TRACE_ID,
        "span_id": SPAN_ID,
        "sampled": True,
        "format": "w3c",
        "tracestate": None,
        "baggage": {},
    }
    assert w3c.extract_context({"X-B3-TraceId": TRACE_ID[16:], "X-B3-SpanId": SPAN_ID}) == {
        "trace_id": "0" * 16 + TRACE_ID[16:],
        "span_id": SPAN_ID,
        "sampled": True,
        "format": "b3",
        "tracestate": None,
        "baggage": {},
    }


@pytest.mark.parametrize(
    "headers",
    [
        {"traceparent": f"00-{TRACE_ID.upper()}-{SPAN_ID}-01"},
        {"traceparent": f"ff-{TRACE_ID}-{SPAN_ID}-01"},
        {"traceparent": f"00-{'0' * 32}-{SPAN_ID}-01"},
        {"b3": f"{TRACE_ID}-{SPAN_ID}-x"},
        {"X-B3-TraceId": "nothex", "X-B3-SpanId": SPAN_ID},
    ],
)
def test_malformed_context_starts_a_fresh_trace(
    spans: Spans, tracer: DistributedTracer, headers: dict[str, str]
) -> None:
    parent = tracer.extract_context(headers)
    assert parent is None
    with tracer.start_span("handle", parent_context=parent) as span:
        pass
    _assert_ids(span)
    assert span.trace_id != TRACE_ID
    assert span.parent_span_id is None
    assert spans.one("handle").parent is None


def test_header_text_never_reaches_span_attributes(spans: Spans, tracer: DistributedTracer) -> None:
    parent = tracer.extract_context(
        {"traceparent": f"00-{TRACE_ID}-{SPAN_ID}-01", "tracestate": "k=<script>", "baggage": "x=<script>"}
    )
    with tracer.start_span("handle", parent_context=parent):
        pass
    assert dict(spans.one("handle").attributes or {}) == {"synapsekit.service.name": "checkout"}


@pytest.mark.parametrize(
    ("parent", "message"),
    [
        ({"trace_id": TRACE_ID.upper(), "span_id": SPAN_ID}, "trace_id"),
        ({"trace_id": "0" * 32, "span_id": SPAN_ID}, "trace_id"),
        ({"trace_id": TRACE_ID[:16], "span_id": SPAN_ID}, "trace_id"),
        ({"span_id": SPAN_ID}, "trace_id"),
        ({"trace_id": TRACE_ID, "span_id": "xyz"}, "span_id"),
        ({"trace_id": TRACE_ID, "span_id": 5}, "span_id"),
        ({"trace_id": TRACE_ID, "span_id": SPAN_ID, "baggage": ["a"]}, "baggage"),
    ],
)
def test_hand_made_parent_is_validated(
    tracer: DistributedTracer, parent: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        tracer.start_span("op", parent_context=parent)


@pytest.mark.parametrize(
    ("parent", "shown"),
    [
        (f"00-{TRACE_ID}-{SPAN_ID}-01", f"str '00-{TRACE_ID}-{SPAN_ID}-01'"),
        ([("traceparent", "x")], "list [('traceparent', 'x')]"),
        (42, "int 42"),
    ],
)
def test_parent_that_is_not_a_mapping_is_a_type_error(
    spans: Spans, tracer: DistributedTracer, parent: object, shown: str
) -> None:
    with pytest.raises(TypeError) as raised:
        tracer.start_span("op", parent_context=parent)  # type: ignore[arg-type]
    assert str(raised.value) == (
        "parent_context must be the dict returned by extract_context(headers), a TraceSpan or None, "
        f"got {shown}"
    )
    assert spans.finished() == []  # no span was started


def test_minimal_hand_made_parent_is_accepted(tracer: DistributedTracer) -> None:
    with tracer.start_span("op", parent_context={"trace_id": TRACE_ID, "span_id": SPAN_ID}) as span:
        assert tracer.inject_context({}) == {"traceparent": f"00-{TRACE_ID}-{span.span_id}-01"}


# --- TraceSpan -----------------------------------------------------------------------------------------


def test_span_is_current_inside_the_block_and_restored_after(tracer: DistributedTracer) -> None:
    before = trace.get_current_span()
    with tracer.start_span("op") as span:
        assert trace.get_current_span() is span.otel_span
    assert trace.get_current_span() is before
    assert span.is_ended


class _Custom:
    def __str__(self) -> str:
        return "custom!"


def test_span_attributes_events_kind_and_service_name(spans: Spans, tracer: DistributedTracer) -> None:
    with tracer.start_span("rag.query", kind="client") as span:
        span.set_attribute("answer_length", 42)
        span.set_attribute("ratio", 0.5)
        span.set_attribute("ok", True)
        span.set_attribute("tags", ["a", "b"])
        span.set_attribute("mixed", [1, "a"])
        span.set_attribute("obj", _Custom())
        span.set_attribute("nothing", None)
        span.add_event("retrieved", {"documents": 3, "ids": (1, 2), "skip": None})
        span.add_event("plain")
    exported = spans.one("rag.query")
    assert exported.kind is SpanKind.CLIENT
    assert dict(exported.attributes or {}) == {
        "synapsekit.service.name": "checkout",
        "answer_length": 42,
        "ratio": 0.5,
        "ok": True,
        "tags": ("a", "b"),
        "mixed": ("1", "a"),
        "obj": "custom!",
    }
    assert [(event.name, dict(event.attributes or {})) for event in exported.events] == [
        ("retrieved", {"documents": 3, "ids": (1, 2)}),
        ("plain", {}),
    ]


def test_unknown_span_kind_is_a_value_error(tracer: DistributedTracer) -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        tracer.start_span("op", kind="sideways")  # type: ignore[arg-type]


def test_empty_span_name_is_a_value_error(tracer: DistributedTracer) -> None:
    with pytest.raises(ValueError, match="span name must be a non-empty string"):
        tracer.start_span("")


def test_exception_escaping_the_block_is_recorded(spans: Spans, tracer: DistributedTracer) -> None:
    with pytest.raises(RuntimeError, match="boom"), tracer.start_span("op"):
        raise RuntimeError("boom")
    exported = spans.one("op")
    assert exported.status.status_code is StatusCode.ERROR
    assert exported.status.description == "RuntimeError: boom"
    assert [event.name for event in exported.events] == ["exception"]
    attributes = dict(exported.events[0].attributes or {})
    assert (attributes["exception.type"], attributes["exception.message"]) == ("RuntimeError", "boom")
    assert trace.get_current_span() is trace.INVALID_SPAN


async def test_async_with_and_exception(spans: Spans, tracer: DistributedTracer) -> None:
    async with tracer.start_span("outer") as outer:
        assert trace.get_current_span() is outer.otel_span
        with pytest.raises(KeyError):
            async with tracer.start_span("inner") as inner:
                raise KeyError("k")
    assert inner.parent_span_id == outer.span_id
    assert spans.one("inner").status.status_code is StatusCode.ERROR
    assert spans.one("outer").status.status_code is StatusCode.UNSET
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_base_exceptions_end_the_span_without_error(spans: Spans, tracer: DistributedTracer) -> None:
    with pytest.raises(KeyboardInterrupt), tracer.start_span("op"):
        raise KeyboardInterrupt
    exported = spans.one("op")
    assert exported.status.status_code is StatusCode.UNSET
    assert exported.events == ()


def test_manual_record_exception_and_status(spans: Spans, tracer: DistributedTracer) -> None:
    span = tracer.start_span("op")
    span.record_exception(ValueError("bad input"))
    span.set_status("error", "validation failed")
    span.end()
    exported = spans.one("op")
    assert (exported.status.status_code, exported.status.description) == (
        StatusCode.ERROR,
        "validation failed",
    )
    assert dict(exported.events[0].attributes or {})["exception.type"] == "ValueError"


@pytest.mark.parametrize(
    ("value", "kind"), [("not an exception", "str"), (ValueError, "type"), (None, "NoneType")]
)
def test_record_exception_needs_an_exception(
    spans: Spans, tracer: DistributedTracer, value: object, kind: str
) -> None:
    with tracer.start_span("op") as span:
        with pytest.raises(TypeError) as raised:
            span.record_exception(value)  # type: ignore[arg-type]
        assert str(raised.value) == f"record_exception() needs an exception instance, got {kind}"
    assert spans.one("op").events == ()


def test_status_ok(spans: Spans, tracer: DistributedTracer) -> None:
    with tracer.start_span("op") as span:
        span.set_status("ok", "ignored for ok")
    assert (spans.one("op").status.status_code, spans.one("op").status.description) == (StatusCode.OK, None)


@pytest.mark.parametrize("status", ["OK", "unset", "failed", ""])
def test_set_status_rejects_other_values(tracer: DistributedTracer, status: str) -> None:
    span = tracer.start_span("op")
    with pytest.raises(ValueError, match='takes "ok" or "error"'):
        span.set_status(status)
    span.end()


def test_end_is_idempotent(spans: Spans, tracer: DistributedTracer) -> None:
    with tracer.start_span("op") as span:
        span.end()
        span.end()
        span.set_attribute("late", 1)  # ignored: the span has ended
    span.end()
    assert len(spans.finished()) == 1
    assert "late" not in (spans.one("op").attributes or {})


def test_nesting_makes_children_of_the_current_span(spans: Spans, tracer: DistributedTracer) -> None:
    other = spans.provider.get_tracer("llm-sdk")
    with tracer.start_span("outer") as outer:
        with tracer.start_span("inner") as inner:
            pass
        with other.start_as_current_span("chat gpt-4o"):
            pass
    assert inner.trace_id == outer.trace_id
    assert inner.parent_span_id == outer.span_id
    assert outer.parent_span_id is None
    for name in ("inner", "chat gpt-4o"):
        parent = spans.one(name).parent
        assert parent is not None
        assert _hex(parent.span_id, 16) == outer.span_id
        assert _hex(spans.one(name).context.trace_id, 32) == outer.trace_id


def test_a_trace_span_can_be_the_explicit_parent(spans: Spans, tracer: DistributedTracer) -> None:
    root = tracer.start_span("root")
    child = tracer.start_span("child", parent_context=root)
    child.end()
    root.end()
    assert (child.trace_id, child.parent_span_id) == (root.trace_id, root.span_id)


def test_sampled_out_spans_keep_sdk_ids_and_propagate_not_sampled() -> None:
    tracer = DistributedTracer("svc", tracer_provider=TracerProvider(sampler=ALWAYS_OFF))
    with tracer.start_span("op") as span:
        headers = tracer.inject_context({})
    _assert_ids(span)
    assert span.sampled is False
    assert headers == {"traceparent": f"00-{span.trace_id}-{span.span_id}-00"}


# --- without an OpenTelemetry SDK ----------------------------------------------------------------------


def test_without_sdk_ids_are_generated_and_propagated() -> None:
    tracer = DistributedTracer("svc", "b3", tracer_provider=trace.NoOpTracerProvider())
    with tracer.start_span("root") as root, tracer.start_span("child") as child:
        headers = tracer.inject_context({})
    _assert_ids(root)
    _assert_ids(child)
    assert child.trace_id == root.trace_id
    assert child.span_id != root.span_id
    assert child.parent_span_id == root.span_id
    assert headers == {"b3": f"{root.trace_id}-{child.span_id}-1"}


def test_without_sdk_a_child_of_an_extracted_parent_keeps_its_trace() -> None:
    tracer = DistributedTracer("svc", tracer_provider=trace.NoOpTracerProvider())
    parent = tracer.extract_context({"traceparent": f"00-{TRACE_ID}-{SPAN_ID}-00"})
    with tracer.start_span("handle", parent_context=parent) as span:
        headers = tracer.inject_context({})
    _assert_ids(span)
    assert (span.trace_id, span.parent_span_id) == (TRACE_ID, SPAN_ID)
    assert span.span_id != SPAN_ID
    assert headers == {"traceparent": f"00-{TRACE_ID}-{span.span_id}-00"}


def test_without_sdk_span_methods_are_harmless() -> None:
    tracer = DistributedTracer("svc", tracer_provider=trace.NoOpTracerProvider())
    span = tracer.start_span("op")
    span.set_attribute("k", "v")
    span.add_event("e", {"a": 1})
    span.set_status("ok")
    span.record_exception(ZeroDivisionError())
    with pytest.raises(ZeroDivisionError), span:
        raise ZeroDivisionError
    assert span.is_ended


# --- outgoing HTTP: client hook and the LLM SDK ----------------------------------------------------------


class _Recorder:
    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(dict(request.headers))
        return httpx2.Response(200, text="ok")


@pytest.mark.parametrize(
    ("propagation_format", "single", "names"),
    [
        ("w3c", True, ["traceparent"]),
        ("b3", True, ["b3"]),
        ("b3", False, ["x-b3-sampled", "x-b3-spanid", "x-b3-traceid"]),
    ],
)
def test_http_client_hook_injects_the_configured_format(
    spans: Spans, propagation_format: str, single: bool, names: list[str]
) -> None:
    tracer = DistributedTracer(
        "svc", propagation_format, b3_single_header=single, tracer_provider=spans.provider
    )
    recorder = _Recorder()
    client = tracer.instrument_http_client(httpx2.Client(transport=httpx2.MockTransport(recorder.handle)))
    with client:
        client.get("http://127.0.0.1/none")
        with tracer.start_span("call") as span:
            client.get(
                "http://127.0.0.1/with",
                headers={"TraceParent": "00-stale"} if propagation_format == "w3c" else {},
            )
    assert recorder.requests[0].keys().isdisjoint(["traceparent", "b3", "x-b3-traceid"])
    injected = {name: recorder.requests[1][name] for name in names}
    assert tracer.extract_context(injected) == {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "sampled": True,
        "format": propagation_format,
        "tracestate": None,
        "baggage": {},
    }


async def test_async_http_client_hook(tracer: DistributedTracer) -> None:
    recorder = _Recorder()

    async def handler(request: httpx2.Request) -> httpx2.Response:
        return recorder.handle(request)

    client = tracer.instrument_http_client(httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))
    async with client, tracer.start_span("call") as span:
        await client.get("http://127.0.0.1/")
    assert recorder.requests[0]["traceparent"] == f"00-{span.trace_id}-{span.span_id}-01"


def test_instrumenting_twice_adds_one_hook(tracer: DistributedTracer) -> None:
    existing = [lambda request: None]
    client = httpx2.Client(event_hooks={"request": existing})
    assert tracer.instrument_http_client(client) is client
    tracer.instrument_http_client(client)
    assert len(client.event_hooks["request"]) == 2
    assert client.event_hooks["request"][0] is existing[0]
    client.close()


@pytest.mark.parametrize("not_a_client", [object(), {"request": []}, None])
def test_instrumenting_something_else_is_a_type_error(
    tracer: DistributedTracer, not_a_client: object
) -> None:
    with pytest.raises(TypeError, match="needs an httpx/httpx2 Client or AsyncClient"):
        tracer.instrument_http_client(not_a_client)


CHAT_COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


@pytest.fixture
def chat_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A loopback OpenAI-compatible endpoint that records the headers of each request."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append({name.lower(): value for name, value in self.headers.items()})
            body = json.dumps(CHAT_COMPLETION).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("propagation_format", ["w3c", "b3"])
def test_openai_sdk_requests_carry_the_context(
    spans: Spans, chat_server: tuple[str, list[dict[str, str]]], propagation_format: str
) -> None:
    base_url, seen = chat_server
    tracer = DistributedTracer("svc", propagation_format, tracer_provider=spans.provider)
    llm = openai.OpenAI(
        api_key="sk-test", base_url=base_url, http_client=tracer.instrument_http_client(httpx2.Client())
    )
    with llm, tracer.start_span("rag.query") as span:
        reply = llm.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "hello"
    expected = (
        {"traceparent": f"00-{span.trace_id}-{span.span_id}-01"}
        if propagation_format == "w3c"
        else {"b3": f"{span.trace_id}-{span.span_id}-1"}
    )
    assert {name: seen[0][name] for name in expected} == expected


def test_hook_failures_never_break_the_request(
    tracer: DistributedTracer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import synapsekit._core.errors as errors

    def broken(self: DistributedTracer) -> dict[str, str]:
        raise RuntimeError("tracing bug")

    monkeypatch.setattr(DistributedTracer, "_current_headers", broken)
    monkeypatch.setattr(errors, "_strict", False)
    recorder = _Recorder()
    with tracer.instrument_http_client(
        httpx2.Client(transport=httpx2.MockTransport(recorder.handle))
    ) as client:
        assert client.get("http://127.0.0.1/").text == "ok"
    monkeypatch.setattr(errors, "_strict", True)
    with (
        tracer.instrument_http_client(
            httpx2.Client(transport=httpx2.MockTransport(recorder.handle))
        ) as client,
        pytest.raises(RuntimeError, match="tracing bug"),
    ):
        client.get("http://127.0.0.1/")


# --- the global OpenTelemetry propagator ---------------------------------------------------------------


@pytest.fixture
def restore_global_propagator() -> Iterator[None]:
    previous = propagate.get_global_textmap()
    yield
    propagate.set_global_textmap(previous)


@pytest.mark.usefixtures("restore_global_propagator")
@pytest.mark.parametrize(
    ("propagation_format", "single", "fields"),
    [
        ("w3c", True, {"traceparent", "tracestate", "baggage"}),
        ("b3", True, {"b3"}),
        ("b3", False, {"X-B3-TraceId", "X-B3-SpanId", "X-B3-Sampled"}),
    ],
)
def test_install_global_propagator_round_trip(
    spans: Spans, propagation_format: str, single: bool, fields: set[str]
) -> None:
    tracer = DistributedTracer(
        "svc", propagation_format, b3_single_header=single, tracer_provider=spans.provider
    )
    propagator = tracer.install_global_propagator()
    assert propagate.get_global_textmap() is propagator
    assert propagator.fields == fields
    with tracer.start_span("op") as span:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
    assert set(carrier) == fields - {"tracestate", "baggage"}
    remote = trace.get_current_span(propagate.extract(carrier)).get_span_context()
    assert (remote.is_remote, _hex(remote.trace_id, 32), _hex(remote.span_id, 16)) == (
        True,
        span.trace_id,
        span.span_id,
    )


def test_b3_propagator_reads_lower_case_and_canonical_names_and_ignores_garbage() -> None:
    propagator = create_propagator("b3")
    for carrier in (
        {"x-b3-traceid": TRACE_ID, "x-b3-spanid": SPAN_ID, "x-b3-sampled": "0"},
        {"X-B3-TraceId": TRACE_ID, "X-B3-SpanId": SPAN_ID, "X-B3-Sampled": "0"},
        {"b3": f"{TRACE_ID}-{SPAN_ID}-0"},
    ):
        remote = trace.get_current_span(propagator.extract(carrier)).get_span_context()
        assert (_hex(remote.trace_id, 32), _hex(remote.span_id, 16), remote.trace_flags.sampled) == (
            TRACE_ID,
            SPAN_ID,
            False,
        )
    for garbage in ({"b3": "0"}, {"traceparent": f"00-{TRACE_ID}-{SPAN_ID}-01"}, {}):
        assert trace.get_current_span(propagator.extract(garbage)) is trace.INVALID_SPAN
    untouched: dict[str, str] = {}
    propagator.inject(untouched, context=context_api.Context())
    assert untouched == {}


def test_create_propagator_rejects_unknown_formats() -> None:
    with pytest.raises(ValueError, match="propagation_format"):
        create_propagator("jaeger")


# --- ASGI middleware -----------------------------------------------------------------------------------


async def _run_asgi(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    return sent


def _scope(
    method: str = "GET", path: str = "/items/7", headers: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "scheme": "http", "headers": headers or []}


async def test_middleware_joins_the_incoming_trace(spans: Spans, tracer: DistributedTracer) -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["outgoing"] = tracer.inject_context({})
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    middleware = TraceContextMiddleware(app, tracer)
    sent = await _run_asgi(
        middleware, _scope(headers=[(b"traceparent", f"00-{TRACE_ID}-{SPAN_ID}-01".encode())])
    )
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
    exported = spans.one("GET /items/7")
    assert exported.kind is SpanKind.SERVER
    assert exported.parent is not None
    assert (_hex(exported.context.trace_id, 32), _hex(exported.parent.span_id, 16)) == (TRACE_ID, SPAN_ID)
    assert dict(exported.attributes or {}) == {
        "synapsekit.service.name": "checkout",
        "http.request.method": "GET",
        "url.path": "/items/7",
        "url.scheme": "http",
        "http.response.status_code": 201,
    }
    assert seen["outgoing"] == {"traceparent": f"00-{TRACE_ID}-{_hex(exported.context.span_id, 16)}-01"}


async def test_middleware_b3_headers_custom_name_and_server_errors(spans: Spans) -> None:
    tracer = DistributedTracer("api", "b3", tracer_provider=spans.provider)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 503, "headers": []})

    middleware = TraceContextMiddleware(app, tracer, span_name="api.request")
    await _run_asgi(middleware, _scope(headers=[(b"b3", f"{TRACE_ID}-{SPAN_ID}-1".encode())]))
    exported = spans.one("api.request")
    assert _hex(exported.context.trace_id, 32) == TRACE_ID
    assert exported.status.status_code is StatusCode.ERROR


async def test_middleware_records_app_exceptions_and_sanitises_names(
    spans: Spans, tracer: DistributedTracer
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise LookupError("missing")

    with pytest.raises(LookupError):
        await _run_asgi(
            TraceContextMiddleware(app, tracer), _scope(method="BREW", path="/pot\x00\n" + "x" * 300)
        )
    exported = spans.one("HTTP /pot??" + "x" * 250)
    assert exported.parent is None
    assert exported.status.status_code is StatusCode.ERROR
    assert dict(exported.attributes or {})["http.request.method"] == "_OTHER"


async def test_middleware_passes_other_scopes_through(spans: Spans, tracer: DistributedTracer) -> None:
    calls: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["type"])

    await _run_asgi(TraceContextMiddleware(app, tracer), {"type": "lifespan"})
    assert calls == ["lifespan"]
    assert spans.finished() == []
