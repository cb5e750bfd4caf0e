"""Exactly one span per request with an OpenTelemetry SDK tracer provider installed.

With the SDK's own telemetry on (its default) the span is the SDK's ``anthropic.messages.create``,
enriched by synapsekit; with it off (``open_telemetry=False`` or ``ANTHROPIC_OPEN_TELEMETRY=false``)
it is synapsekit's ``chat {model}``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import anthropic
import anthropic._base_client
import pytest
from _anthropic_testkit import MODEL, RecordingSink, request
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from synapsekit.testing import LLMTestServer
from synapsekit.testing._span_capture import install_global_span_capture

MODES = ["create", "create_stream", "stream_manager"]
SDK_SCOPE = "com.anthropic.sdk.python"
# anthropic >= 1.17 traces its own calls; older versions leave the one span to synapsekit.
SDK_TRACES = callable(getattr(anthropic._base_client, "start_api_call_span", None))
SDK_TELEMETRY_OFF: dict[str, Any] = {"open_telemetry": False} if SDK_TRACES else {}
SYNAPSEKIT_ENRICHMENT = {
    "gen_ai.usage.input_tokens": 7,
    "gen_ai.usage.output_tokens": 12,
    "gen_ai.usage.cache_read.input_tokens": 3,
    "gen_ai.usage.cache_creation.input_tokens": 2,
    "gen_ai.usage.cost": pytest.approx(0.0000648),
    "gen_ai.response.finish_reasons": ("end_turn",),
    "gen_ai.response.model": MODEL,
}


@pytest.fixture
def spans() -> Iterator[Any]:
    exporter = install_global_span_capture()
    exporter.clear()
    yield exporter
    exporter.clear()


def send(client: anthropic.Anthropic, mode: str, **overrides: Any) -> None:
    if mode == "create":
        client.messages.create(**request(**overrides))
    elif mode == "create_stream":
        for _ in client.messages.create(stream=True, **request(**overrides)):
            pass
    else:
        with client.messages.stream(**request(**overrides)) as stream:
            stream.until_done()


async def send_async(client: anthropic.AsyncAnthropic, mode: str) -> None:
    if mode == "create":
        await client.messages.create(**request())
    elif mode == "create_stream":
        async for _ in await client.messages.create(stream=True, **request()):
            pass
    else:
        async with client.messages.stream(**request()) as stream:
            await stream.until_done()


def only_span(spans: Any) -> ReadableSpan:
    finished: tuple[ReadableSpan, ...] = spans.get_finished_spans()
    assert len(finished) == 1, [span.name for span in finished]
    return finished[0]


def assert_synapsekit_span(span: ReadableSpan, server: LLMTestServer) -> None:
    assert (span.name, span.instrumentation_scope.name) == (f"chat {MODEL}", "synapsekit")
    attributes = dict(span.attributes or {})
    assert {key: attributes.get(key) for key in SYNAPSEKIT_ENRICHMENT} == SYNAPSEKIT_ENRICHMENT
    assert (attributes["gen_ai.provider.name"], attributes["server.port"]) == ("anthropic", server.port)


def assert_sdk_span_enriched(span: ReadableSpan, mode: str, server: LLMTestServer) -> None:
    if not SDK_TRACES:
        assert_synapsekit_span(span, server)
        return
    assert (span.name, span.instrumentation_scope.name) == ("anthropic.messages.create", SDK_SCOPE)
    attributes = dict(span.attributes or {})
    assert {key: attributes.get(key) for key in SYNAPSEKIT_ENRICHMENT} == SYNAPSEKIT_ENRICHMENT
    assert attributes.get("gen_ai.request.stream") is (True if mode != "create" else None)
    # One name for cache writes, the conventions': the SDK's own spelling is not left beside it.
    assert "gen_ai.usage.cache_write.input_tokens" not in attributes
    assert "synapsekit.usage.estimated" not in attributes
    # The SDK's own attributes are still there, and its trace context still reaches the server.
    assert attributes["gen_ai.provider.name"] == "anthropic"
    assert attributes["http.response.status_code"] == 200
    assert span.status.status_code is StatusCode.OK
    context = span.get_span_context()
    assert [r.headers["traceparent"] for r in server.requests] == [
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
    ]


@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize("mode", MODES)
def test_one_span_the_sdks_enriched(
    mode: str,
    client: anthropic.Anthropic,
    spans: Any,
    server: LLMTestServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="opentelemetry"):
        send(client, mode)
    assert_sdk_span_enriched(only_span(spans), mode, server)
    # Ended once: no "Calling end() on an ended span" from the OpenTelemetry SDK.
    assert caplog.records == []


@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize("mode", MODES)
async def test_async_one_span_the_sdks_enriched(
    mode: str, async_client: anthropic.AsyncAnthropic, spans: Any, server: LLMTestServer
) -> None:
    await send_async(async_client, mode)
    assert_sdk_span_enriched(only_span(spans), mode, server)


@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize("mode", MODES)
def test_sdk_telemetry_off_gives_synapsekits_span(mode: str, server: LLMTestServer, spans: Any) -> None:
    client = anthropic.Anthropic(
        base_url=server.anthropic_base_url, api_key="k", max_retries=0, **SDK_TELEMETRY_OFF
    )
    send(client, mode)
    assert_synapsekit_span(only_span(spans), server)
    assert "traceparent" not in server.requests[0].headers


@pytest.mark.usefixtures("instrumented")
def test_sdk_telemetry_off_by_environment(
    server: LLMTestServer, spans: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")
    client = anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="k", max_retries=0)
    send(client, "create")
    assert only_span(spans).name == f"chat {MODEL}"


@pytest.mark.usefixtures("instrumented")
def test_one_span_for_an_error(client: anthropic.Anthropic, spans: Any, sink: RecordingSink) -> None:
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(**request(extra_headers={"x-test-status": "429"}))
    span = only_span(spans)
    assert span.name == ("anthropic.messages.create" if SDK_TRACES else f"chat {MODEL}")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "RateLimitError"
    assert [event.name for event in span.events] == ["exception"]
    assert len(sink.ended) == 1


@pytest.mark.usefixtures("instrumented")
def test_one_span_for_a_stream_left_early(client: anthropic.Anthropic, spans: Any) -> None:
    with client.messages.stream(**request()) as stream:
        next(iter(stream.text_stream))
    attributes = dict(only_span(spans).attributes or {})
    assert (attributes["synapsekit.usage.estimated"], attributes["gen_ai.usage.output_tokens"]) == (True, 2)


@pytest.mark.usefixtures("instrumented")
def test_sdk_span_is_a_child_of_the_callers_span(client: anthropic.Anthropic, spans: Any) -> None:
    with trace.get_tracer("test").start_as_current_span("outer") as outer:
        send(client, "create")
    inner, parent = spans.get_finished_spans()
    assert parent.name == "outer"
    assert inner.parent is not None
    assert inner.parent.span_id == outer.get_span_context().span_id


@pytest.mark.usefixtures("instrumented")
def test_budget_rejection_has_one_span_and_no_request(
    client: anthropic.Anthropic, spans: Any, server: LLMTestServer
) -> None:
    from test_anthropic_errors import RejectAll

    from synapsekit import BudgetExceeded

    with RejectAll(), pytest.raises(BudgetExceeded):
        client.messages.create(**request())
    span = only_span(spans)
    assert (span.name, (span.attributes or {})["error.type"]) == (f"chat {MODEL}", "BudgetExceeded")
    assert server.request_count == 0


def test_uninstrumented_sdk_keeps_its_own_span_alone(client: anthropic.Anthropic, spans: Any) -> None:
    send(client, "create")
    finished = spans.get_finished_spans()
    assert [span.name for span in finished] == (["anthropic.messages.create"] if SDK_TRACES else [])
    assert all("gen_ai.usage.cost" not in (span.attributes or {}) for span in finished)


REQUEST_PARAMETERS = {
    "gen_ai.request.temperature": 0.5,
    "gen_ai.request.top_p": 1.0,
    "gen_ai.request.top_k": 40,
    "gen_ai.request.stop_sequences": ("END", "STOP"),
}


@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize("telemetry", ["sdk-span", "synapsekit-span"])
@pytest.mark.parametrize("mode", MODES)
def test_request_parameters_on_either_span(
    mode: str, telemetry: str, server: LLMTestServer, spans: Any
) -> None:
    options = SDK_TELEMETRY_OFF if telemetry == "synapsekit-span" else {}
    with anthropic.Anthropic(
        base_url=server.anthropic_base_url, api_key="k", max_retries=0, **options
    ) as client:
        # Newer SDKs take no sampling keywords (anthropic 2.x dropped them); extra_body sends them in any.
        send(
            client,
            mode,
            extra_body={"temperature": 0.5, "top_p": 1, "top_k": 40},
            stop_sequences=["END", "STOP"],
        )
    attributes = dict(only_span(spans).attributes or {})
    assert {key: attributes.get(key) for key in REQUEST_PARAMETERS} == REQUEST_PARAMETERS


@pytest.mark.usefixtures("instrumented")
def test_parameters_left_out_or_of_the_wrong_type_are_no_attributes(
    client: anthropic.Anthropic, spans: Any
) -> None:
    # The server accepts anything: the provider, not synapsekit, is the one to reject a bad value.
    send(client, "create", extra_body={"temperature": "hot", "top_k": 2.5}, stop_sequences="END")
    attributes = dict(only_span(spans).attributes or {})
    assert [key for key in REQUEST_PARAMETERS if key in attributes] == ["gen_ai.request.stop_sequences"]
    assert attributes["gen_ai.request.stop_sequences"] == ("END",)


@pytest.mark.skipif(not SDK_TRACES, reason="this anthropic SDK starts no span of its own")
@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize("mode", MODES)
def test_sdk_span_without_cache_keeps_one_cache_write_name(
    mode: str, client: anthropic.Anthropic, spans: Any
) -> None:
    send(client, mode, extra_headers={})  # no cache read or written
    attributes = dict(only_span(spans).attributes or {})
    cache_names = sorted(key for key in attributes if "cache" in key)
    assert "gen_ai.usage.cache_write.input_tokens" not in cache_names
    # What the SDK reported (zero writes) is kept, under the conventions' name.
    assert attributes.get("gen_ai.usage.cache_creation.input_tokens", 0) == 0
    assert attributes.get("gen_ai.usage.cache_read.input_tokens", 0) == 0
